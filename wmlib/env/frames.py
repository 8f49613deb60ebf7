"""Resizing frames for V, the same for every task (chapter 1).

Earlier reimplementations copied `((1.0 - obs) * 255).round().astype(np.uint8)` from the
original code, which on uint8 input only works through integer wrap-around; here the resize is a
plain float computation (a separable, antialiased bilinear filter, as Pillow's) rounded once at
the end.
"""

import functools

import numpy as np


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
    """Resize a uint8 image (or batch, channels last) to size×size, computing in float32.

    The channels-first copy is made contiguous: on a strided view NumPy's matrix product skips
    BLAS, which made a 240×320 Doom screen take ~7 times as long (the result is the same)."""
    rows = resize_weights(image.shape[-3], size).astype(np.float32)
    columns = resize_weights(image.shape[-2], size).astype(np.float32)
    channels_first = np.ascontiguousarray(np.moveaxis(image, -1, -3), dtype=np.float32)
    resized = np.moveaxis(rows @ channels_first @ columns.T, -3, -1)
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def raw_frames(frame, raw_shape: tuple[int, int, int], what: str) -> np.ndarray:
    """A task's raw observation (or batch) as an array, or a clear error naming the shape and
    dtype its `preprocess` expects (`what`: "CarRacing frames", say)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.shape[-3:] != raw_shape:
        expected = ", ".join(map(str, raw_shape))
        raise ValueError(
            f"preprocess expects {what} of shape (..., {expected}) and dtype uint8, got shape "
            f"{frame.shape} and dtype {frame.dtype}. Pass the observation exactly as env.step "
            f"returns it."
        )
    return frame
