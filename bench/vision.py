"""Benchmark: V's training throughput (images/s), end to end and bare, beside PyTorch's.

    python bench/vision.py [--steps 60] [--episodes 16] [--rounds 3]

In one run, at batch 100 (the paper's), taking turns for `--rounds` rounds (medians reported):
1. the bare step: `tf.function(train_step)` on one fixed batch in memory, the most `fit` could do;
2. `fit` end to end, as the V stage trains: Brownian episodes recorded to a scratch folder, written
   to the frame store (`wmlib.frame_store`), read by its `tf.data` pipeline, checkpoints aside;
3. the same ConvVAE and loss in idiomatic PyTorch (`bench/torch_vae.py`), when torch is installed
   (`pip install -e '.[bench]'`).
The speed issue's goals: (2) ÷ (1) ≥ 0.9 and (1) ÷ (3) ≥ 1.2. Then `vision.encode` at batch 1 and
64. The numbers measured on the project's machine are in bench/README.md.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from wmlib import config, frame_store, rollouts, vision
from wmlib.runtime import device, keras, tf

WARM_UP = 5
"""Steps run before the clock starts (tracing, the first allocations)."""


def bare_rate(batch_size: int, steps: int) -> float:
    """Images per second through `tf.function(train_step)` on one fixed batch."""
    vae = vision.build_vae(config.VisionConfig(batch_size=batch_size))
    frames = tf.random.uniform((batch_size, *vision.FRAME_SHAPE))
    step = tf.function(vae.train_step)
    for _ in range(WARM_UP):
        step(frames)
    start = time.perf_counter()
    for _ in range(steps):
        step(frames)
    float(vae.trackers["loss"].result())
    return batch_size * steps / (time.perf_counter() - start)


class StepClock(keras.callbacks.Callback):
    """Times the batches of `fit` that follow the warm-up."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == WARM_UP - 1:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


def fit_rate(batch_size: int, steps: int, stored: list[Path]) -> float:
    """Images per second through `fit` on the frame store's training batches."""
    settings = config.VisionConfig(batch_size=batch_size)
    vae = vision.build_vae(settings)
    clock = StepClock()
    data = frame_store.training_frames(stored, settings, first_epoch=0)
    vae.fit(
        data, steps_per_epoch=WARM_UP + steps, epochs=1, verbose=0, callbacks=[clock], shuffle=False
    )
    return batch_size * steps / clock.seconds


def record_frames(directory: Path, episodes: int) -> list[Path]:
    """Brownian episodes of 1,000 steps written to a frame store under `directory`."""
    settings = config.RolloutConfig(episodes=episodes, max_steps=1000, policy="brownian")
    paths = rollouts.collect(directory / "episodes", "carracing", settings)
    return frame_store.write_frame_store(paths, directory / "frames")


def torch_rate(batch_size: int, steps: int) -> float | None:
    """PyTorch's images per second, or None (with a message) when torch is not installed."""
    try:
        import torch_vae
    except ModuleNotFoundError as missing:
        print(missing)  # torch_vae says how to install torch
        return None
    return torch_vae.training_rate(batch_size, steps)


def encoding_rate(batch_size: int, frames: int) -> float:
    """Frames per second through `vision.encode`, after a warm-up call."""
    vae = vision.build_vae(config.VisionConfig())
    data = np.random.default_rng(0).integers(0, 256, (frames, *vision.FRAME_SHAPE), np.uint8)
    vision.encode(vae, data[:batch_size], batch_size)
    start = time.perf_counter()
    for first in range(0, frames, batch_size):
        vision.encode(vae, data[first : first + batch_size], batch_size)
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    batch_size, steps = 100, arguments.steps
    print(f"device: {device()}; batch {batch_size}, {steps} timed steps each")
    rates = {"bare": [], "fit": [], "torch": []}
    with tempfile.TemporaryDirectory() as scratch:
        stored = record_frames(Path(scratch), arguments.episodes)
        for round_ in range(arguments.rounds):  # in turns, so that other load slows each alike
            rates["bare"].append(bare_rate(batch_size, steps))
            rates["fit"].append(fit_rate(batch_size, steps, stored))
            rates["torch"].append(torch_rate(batch_size, steps))
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{name} {values[-1] or 0:.0f}" for name, values in rates.items())
            )
    bare, fitted = np.median(rates["bare"]), np.median(rates["fit"])
    print(
        f"medians: bare train_step {bare:.0f} images/s; fit on the frame store {fitted:.0f}, "
        f"{fitted / bare:.2f}× bare (goal ≥ 0.9)"
    )
    if None not in rates["torch"]:
        torch = np.median(rates["torch"])
        print(
            f"PyTorch {torch:.0f} images/s; bare ÷ PyTorch {bare / torch:.2f}, "
            f"fit ÷ PyTorch {fitted / torch:.2f} (goal ≥ 1.2)"
        )
    for batch, frames in ((1, 300), (64, 6400)):
        print(f"encoding, batch {batch:3d}: {encoding_rate(batch, frames):6.0f} frames/s")


if __name__ == "__main__":
    main()
