"""CarRacing-v3, the book's first task (chapter 1: MDPs and CarRacing).

CarRacing renders a 96×96×3 top-down view; its bottom 12 rows are a dashboard. The paper crops
the dashboard and resizes the remaining 84×96 picture to 64×64. The controller's three outputs
are squashed into steering, gas and brake. Four policies can collect the episodes V and M
learn from; an episode file also records the car's path and the track, to see where it drove.
`FastCarRacing` (wmlib/env/fast_carracing.py) draws Gymnasium's very pixels, 3–4 times faster.
"""

import os
from dataclasses import dataclass

import numpy as np

from wmlib.config import FrameConfig
from wmlib.env import Task
from wmlib.env.frames import raw_frames, resize

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym  # noqa: E402  (pygame reads the variable above when it is imported)

ENV_ID = "CarRacing-v3"
FAST_ENV_ID = "wmlib/FastCarRacing-v3"
"""CarRacing-v3 drawn by `FastCarRacing`: the same pixels, 3–4 times faster."""
RENDERERS = {"fast": FAST_ENV_ID, "gymnasium": ENV_ID}
"""Who draws the frames: `make_env(renderer=...)` → the environment's registered id."""
RAW_SHAPE = (96, 96, 3)
ACTION_LOW = np.array([-1.0, 0.0, 0.0], dtype=np.float32)
ACTION_HIGH = np.array([1.0, 1.0, 1.0], dtype=np.float32)
EPISODE_STEPS = 1000
"""CarRacing's own episode length; the paper's scores are returns over episodes this long."""
FRAMES_PER_SECOND = 50
"""CarRacing's simulation rate: one step is 1/50 of a second."""
ZOOM_STEPS = 50
"""CarRacing's camera zooms in during its first second, 50 frames at 50 frames per second."""
LATENT_SIZE = 32
"""Size of z, V's code for a frame, in the paper's agent and in the random agents below."""
HIDDEN_SIZE = 256
"""Size of M's hidden state h in the paper's agent, which its controller reads beside z."""
STORED_PARAMETER_SCALE = 10_000
"""The paper's code keeps V's and M's parameters as integers, multiplied by 10,000, and divides
by 10,000 when it loads them, random parameters included (C's are loaded as they are)."""


# Registered, so that gym.make wraps it as it wraps CarRacing-v3 (time limit, checks, spec).
gym.register(
    FAST_ENV_ID,
    entry_point="wmlib.env.fast_carracing:FastCarRacing",
    max_episode_steps=EPISODE_STEPS,
    reward_threshold=gym.spec(ENV_ID).reward_threshold,
)


def make_env(
    max_steps: int = EPISODE_STEPS, render_mode: str | None = None, renderer: str = "fast"
) -> gym.Env:
    """CarRacing-v3 with continuous actions, truncated after `max_steps` steps; needs no screen.

    `renderer="fast"` draws its frames with `FastCarRacing`, bit-identical to Gymnasium's own
    (`renderer="gymnasium"`) and 3–4 times faster; both come with the wrappers `gym.make` adds,
    the time limit among them.
    """
    if renderer not in RENDERERS:
        raise ValueError(f"Unknown renderer {renderer!r}; choose one of {', '.join(RENDERERS)}.")
    return gym.make(RENDERERS[renderer], max_episode_steps=max_steps, render_mode=render_mode)


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


def preprocess(frame: np.ndarray, frame_config: FrameConfig = FrameConfig()) -> np.ndarray:
    """Crop the dashboard and resize a raw 96×96×3 uint8 frame (or batch) to V's 64×64×3 uint8."""
    frame = raw_frames(frame, RAW_SHAPE, "CarRacing frames")
    return resize(crop_dashboard(frame, frame_config), frame_config.size)


def road_share(frames: np.ndarray) -> np.ndarray:
    """Share of each frame's pixels that show road: grey, with red, green and blue within 20 of
    each other and between 80 and 140. Grass is green and the void off the map is dark green."""
    frames = np.asarray(frames, dtype=np.int16)
    red, green, blue = frames[..., 0], frames[..., 1], frames[..., 2]
    grey = (np.abs(red - green) < 20) & (np.abs(green - blue) < 20)
    road = grey & (green >= 80) & (green <= 140)
    return road.mean(axis=(-2, -1))


@dataclass
class RandomWeightsPolicy:
    """A Gaussian stand-in for the paper's data policy, which is `CauchyWeightsPolicy`.

    C's weights are drawn from N(0, s²) with s ~ U(0, 0.01), anew for every episode, where the
    paper draws them from a standard Cauchy distribution scaled by s, whose heavy tails this
    stand-in lacks. A random projection of the frame stands in for the untrained V (the paper's
    random V hands C noise that ignores the frame) and M's state is left out. With weights that
    small the actions barely depend on the frame: the car drives almost straight at half gas,
    steering a little differently in each episode.
    """

    max_weight_scale: float = 0.01
    """Upper end of the uniform draw of the weights' standard deviation s."""

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Draw this episode's random V (a projection) and C (weights and bias)."""
        inputs = int(np.prod(frame_shape))
        scale = rng.uniform(0.0, self.max_weight_scale)
        self.projection = rng.standard_normal((inputs, LATENT_SIZE)) / np.sqrt(inputs)
        self.weights = rng.normal(0.0, scale, (LATENT_SIZE, 3))
        self.bias = rng.normal(0.0, scale, 3)

    def act(self, frame: np.ndarray) -> np.ndarray:
        """C's action on the random features of the 64×64 frame."""
        features = (frame.reshape(-1) / 255.0) @ self.projection
        return controller_action(features @ self.weights + self.bias)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, written with tanh so that no input overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class CauchyWeightsPolicy:
    """The paper's data policy: V, M and C with random weights, s times a standard Cauchy draw.

    For every episode the paper's `extract.py` draws s ~ U(0, 0.01) and gives every parameter of
    C, V and M the value s × a standard Cauchy draw (`init_random_model_params` in its
    `model.py`). V and M divide the parameters they load by 10,000 (`STORED_PARAMETER_SCALE`),
    so their weights are s × Cauchy / 10,000, while C's are s × Cauchy. Here:

    - C is the paper's: a = W [z, h] + b, (32 + 256) × 3 + 3 = 867 Cauchy parameters, squashed
      by `controller_action`.
    - M is the paper's LSTM cell (256 units, forget-gate bias 1, no layer normalisation) with
      its random weights, fed z and the action after every step, as in the paper's agent.
    - V is the one stand-in. With weights this small a ConvVAE's μ and log σ² stay close to
      zero on every frame (measured over 40 draws on CarRacing frames: typically 10⁻⁵, at most
      2·10⁻³), and the paper's agent samples z = μ + σ ε, so its random V hands C noise from
      N(0, I) that ignores the frame. This policy draws that noise directly instead of running
      a random ConvVAE on every frame.

    That noise moves C's output at every step, so the car jitters around straight ahead at about
    half gas, braking lightly whenever the brake output comes out positive. The heavy tails make
    episodes unlike one another: among C's 867 draws a few are hundreds of times s, and some
    episodes steer, brake or jitter far harder than the typical one.
    """

    max_weight_scale: float = 0.01
    """Upper end of the uniform draw of s, the scale of every weight."""

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Draw this episode's s, then M's and C's random weights; start M from a zero state."""
        self.rng = rng
        scale = rng.uniform(0.0, self.max_weight_scale)
        memory_scale = scale / STORED_PARAMETER_SCALE
        memory_inputs = LATENT_SIZE + 3 + HIDDEN_SIZE
        self.kernel = rng.standard_cauchy((memory_inputs, 4 * HIDDEN_SIZE)) * memory_scale
        self.kernel_bias = rng.standard_cauchy(4 * HIDDEN_SIZE) * memory_scale
        self.weights = rng.standard_cauchy((LATENT_SIZE + HIDDEN_SIZE, 3)) * scale
        self.bias = rng.standard_cauchy(3) * scale
        self.hidden = np.zeros(HIDDEN_SIZE)
        self.cell = np.zeros(HIDDEN_SIZE)

    def act(self, frame: np.ndarray) -> np.ndarray:
        """C's action on [z, h], z being the random V's noise; then M takes in z and the action."""
        z = self.rng.standard_normal(LATENT_SIZE)
        action = controller_action(np.concatenate([z, self.hidden]) @ self.weights + self.bias)
        self.remember(z, action)
        return action

    def remember(self, z: np.ndarray, action: np.ndarray) -> None:
        """One step of M's LSTM cell: input, candidate, forget and output gates, in that order."""
        gates = np.concatenate([z, action, self.hidden]) @ self.kernel + self.kernel_bias
        inputs, candidate, forget, output = np.split(gates, 4)
        self.cell = self.cell * sigmoid(forget + 1.0) + sigmoid(inputs) * np.tanh(candidate)
        self.hidden = np.tanh(self.cell) * sigmoid(output)


@dataclass
class BrownianPolicy:
    """Actions that wander as Brownian motion: a_{t+1} = clip(a_t + √dt · ε), ε ~ N(0, I).

    Smooth in time like a person's steering, and wider-ranging than the random-weights agents'
    actions, so the car turns, brakes, and drives both on the road and off it.
    """

    dt: float = 1.0 / 50.0
    """Time step of the random walk; CarRacing runs at 50 frames per second."""

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Start the walk from a uniformly random action."""
        self.rng = rng
        self.action = rng.uniform(ACTION_LOW, ACTION_HIGH).astype(np.float32)

    def act(self, frame: np.ndarray) -> np.ndarray:
        """Take one step of the walk; the frame is ignored."""
        step = np.sqrt(self.dt) * self.rng.standard_normal(3)
        self.action = np.clip(self.action + step, ACTION_LOW, ACTION_HIGH).astype(np.float32)
        return self.action


@dataclass
class UniformPolicy:
    """A fresh uniformly random action every frame: the textbook random agent.

    It brakes on half of its frames and its steering averages out, so the car creeps along,
    slowly and nearly straight.
    """

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Keep the episode's random generator."""
        self.rng = rng

    def act(self, frame: np.ndarray) -> np.ndarray:
        """An action drawn uniformly from the action box; the frame is ignored."""
        return self.rng.uniform(ACTION_LOW, ACTION_HIGH).astype(np.float32)


def car_position(env: gym.Env) -> dict:
    """Where the car is before a step, recorded per step as `positions` (world coordinates)."""
    return {"positions": np.asarray(env.unwrapped.car.hull.position, dtype=np.float32)}


def track_and_tiles(env: gym.Env) -> dict:
    """The track's centre line (one point per tile) and how many tiles the car touched."""
    track = np.array([point[2:4] for point in env.unwrapped.track], dtype=np.float32)
    return {"track": track, "tiles_visited": np.int64(env.unwrapped.tile_visited_count)}


def track_fraction(episode) -> float:
    """Share of the track's tiles the car visited in a recorded episode."""
    return int(episode.extras["tiles_visited"]) / len(episode.extras["track"])


TASK = Task(
    name="carracing",
    make_env=make_env,
    preprocess=preprocess,
    action_size=3,
    controller_action=controller_action,
    env_action=np.asarray,
    policies={
        "random_weights": RandomWeightsPolicy,
        "brownian": BrownianPolicy,
        "uniform": UniformPolicy,
        "cauchy_weights": CauchyWeightsPolicy,
    },
    episode_steps=EPISODE_STEPS,
    frames_per_second=FRAMES_PER_SECOND,
    step_extras=car_position,
    episode_extras=track_and_tiles,
    action_sliders=(("steer", -1.0, 1.0, 0.0), ("gas", 0.0, 1.0, 0.3), ("brake", 0.0, 1.0, 0.0)),
)
