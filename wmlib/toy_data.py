"""Small synthetic problems on which chapters 3 and 4 show M's parts at work."""

import numpy as np


def inverted_sine(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bishop's inverse problem: given x, predict t, where x = t + 0.3 sin(2πt) + noise.

    t is uniform on [0, 1] and the noise uniform on [−0.1, 0.1]. Each t gives one x, but for x
    in the middle of the range up to three values of t fit, so t given x is multi-valued.
    Returns (x, t), each of shape (count, 1).
    """
    t = rng.uniform(0.0, 1.0, (count, 1))
    x = t + 0.3 * np.sin(2 * np.pi * t) + rng.uniform(-0.1, 0.1, (count, 1))
    return x.astype(np.float32), t.astype(np.float32)


def branching_sequences(
    count: int, length: int, branch_step: int, rng: np.random.Generator
) -> np.ndarray:
    """Signals that climb, then at `branch_step` turn up or down at random, with a little noise.

    Until the branch the next value is predictable; at the branch it has two equally likely
    futures; after it, the history tells which branch the signal took. Shape (count, length, 1).
    """
    steps = np.arange(length)
    direction = rng.choice([-1.0, 1.0], size=(count, 1))
    slope = np.where(steps < branch_step, 0.05, 0.05 + 0.2 * direction)
    signal = np.cumsum(slope, axis=1) + 0.01 * rng.standard_normal((count, length))
    return signal[..., None].astype(np.float32)


def recall_task(count: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Remember a number seen at the first step and say it at the last.

    Each input step has two channels: a value and a marker. At step 0 the value is the number
    to remember (uniform on [−1, 1]) and the marker is 1; afterwards the values are noise and
    the marker is 0. The target is the remembered number. Returns inputs (count, length, 2)
    and targets (count, 1).
    """
    remembered = rng.uniform(-1.0, 1.0, (count, 1))
    values = rng.uniform(-1.0, 1.0, (count, length))
    values[:, 0] = remembered[:, 0]
    markers = np.zeros((count, length))
    markers[:, 0] = 1.0
    inputs = np.stack([values, markers], axis=-1)
    return inputs.astype(np.float32), remembered.astype(np.float32)
