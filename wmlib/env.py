"""CarRacing-v3, and how its frames become V's input (chapter 1: MDPs and CarRacing).

CarRacing renders a 96×96×3 top-down view; its bottom 12 rows are a dashboard. The paper crops
the dashboard and resizes the remaining 84×96 picture to 64×64. Earlier reimplementations copied
`((1.0 - obs) * 255).round().astype(np.uint8)` from the original code, which on uint8 input only
works through integer wrap-around; here the resize is a plain float computation (a separable,
antialiased bilinear filter, as Pillow's) rounded once at the end.
"""

import functools
import os

import numpy as np

from wmlib.config import FrameConfig

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402  (pygame reads the variable above when it is imported)

ENV_ID = "CarRacing-v3"
RAW_SHAPE = (96, 96, 3)
ACTION_LOW = np.array([-1.0, 0.0, 0.0], dtype=np.float32)
ACTION_HIGH = np.array([1.0, 1.0, 1.0], dtype=np.float32)
EPISODE_STEPS = 1000
"""CarRacing's own episode length; the paper's scores are returns over episodes this long."""
FRAMES_PER_SECOND = 50
"""CarRacing's simulation rate: one step is 1/50 of a second."""
ZOOM_STEPS = 50
"""CarRacing's camera zooms in during its first second, 50 frames at 50 frames per second."""


def make_env(max_steps: int = EPISODE_STEPS, render_mode: str | None = None) -> gym.Env:
    """CarRacing-v3 with continuous actions, truncated after `max_steps` steps; needs no screen."""
    return gym.make(ENV_ID, max_episode_steps=max_steps, render_mode=render_mode)


def controller_action(raw: np.ndarray) -> np.ndarray:
    """Map a controller's unbounded output to CarRacing's action ranges, as the paper does.

    Every output goes through tanh; steering keeps tanh's [-1, 1], gas becomes (x + 1) / 2 in
    [0, 1] and brake is clipped to [0, 1], so a controller with zero weights drives at half gas.
    """
    squashed = np.tanh(np.asarray(raw, dtype=np.float32))
    steer, gas, brake = squashed[..., 0], (squashed[..., 1] + 1.0) / 2.0, squashed[..., 2]
    return np.stack([steer, gas, np.clip(brake, 0.0, 1.0)], axis=-1)


def crop_dashboard(frame: np.ndarray, frame_config: FrameConfig = FrameConfig()) -> np.ndarray:
    """The playing field of a raw frame (or of a batch of them), without the dashboard rows."""
    return frame[..., : frame_config.dashboard_row, :, :]


@functools.cache
def resize_weights(input_size: int, output_size: int) -> np.ndarray:
    """The (output_size, input_size) matrix of an antialiased bilinear (triangle) resize.

    Output pixel i is centred on input coordinate (i + 0.5) · scale; each input pixel j counts
    with the triangle weight max(0, 1 − |j + 0.5 − centre| / width), where the triangle is
    widened to the scale when shrinking so that every input pixel contributes. Rows sum to one.
    """
    scale = input_size / output_size
    width = max(scale, 1.0)
    centres = (np.arange(output_size) + 0.5) * scale
    distances = np.abs(np.arange(input_size)[None, :] + 0.5 - centres[:, None])
    weights = np.maximum(0.0, 1.0 - distances / width)
    return weights / weights.sum(axis=1, keepdims=True)


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 image (or batch, channels last) to size×size, computing in float32."""
    rows = resize_weights(image.shape[-3], size).astype(np.float32)
    columns = resize_weights(image.shape[-2], size).astype(np.float32)
    channels_first = np.moveaxis(image.astype(np.float32), -1, -3)
    resized = np.moveaxis(rows @ channels_first @ columns.T, -3, -1)
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def preprocess(frame: np.ndarray, frame_config: FrameConfig = FrameConfig()) -> np.ndarray:
    """Crop the dashboard and resize a raw 96×96×3 uint8 frame (or batch) to V's 64×64×3 uint8."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.shape[-3:] != RAW_SHAPE:
        raise ValueError(
            f"preprocess expects CarRacing frames of shape (..., 96, 96, 3) and dtype uint8, "
            f"got shape {frame.shape} and dtype {frame.dtype}. Pass the observation exactly as "
            f"env.step returns it."
        )
    return resize(crop_dashboard(frame, frame_config), frame_config.size)


def road_share(frames: np.ndarray) -> np.ndarray:
    """Share of each frame's pixels that show road: grey, with red, green and blue within 20 of
    each other and between 80 and 140. Grass is green and the void off the map is dark green."""
    frames = np.asarray(frames, dtype=np.int16)
    red, green, blue = frames[..., 0], frames[..., 1], frames[..., 2]
    grey = (np.abs(red - green) < 20) & (np.abs(green - blue) < 20)
    road = grey & (green >= 80) & (green <= 140)
    return road.mean(axis=(-2, -1))
