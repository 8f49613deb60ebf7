"""Benchmark: M's training throughput, single-step latency, and batched dreaming.

    python bench/memory.py [--steps 10]

Trains the paper-sized MDN-RNN (LSTM 256, 5 Gaussians × 32 dimensions) on random sequences of
999 steps at batch 16, times `MDNRNN.step` at batch 1 and 64, and runs 64 dreams batched against
64 dreams one at a time. The numbers measured on the project's machine are in bench/README.md.
"""

import argparse
import time

import numpy as np

from wmlib import config, memory
from wmlib.runtime import device, tf


def training_rate(model, batch_size: int, length: int, steps: int) -> float:
    """Sequences per second through `train_step`, after a warm-up step."""
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(batch_size, length + 1, 32)).astype(np.float32)
    batch = (
        mean,
        np.full_like(mean, -2.0),
        rng.uniform(size=(batch_size, length + 1, 3)).astype(np.float32),
        np.zeros((batch_size, length + 1), np.float32),
        np.ones((batch_size, length + 1), np.float32),
    )
    step = tf.function(model.train_step)
    step(batch)
    start = time.perf_counter()
    for _ in range(steps):
        step(batch)
    float(model.trackers["loss"].result())
    return batch_size * steps / (time.perf_counter() - start)


def step_latency(model, batch_size: int, repeats: int = 200) -> float:
    """Milliseconds per `MDNRNN.step` call at a batch size, after a warm-up call."""
    z = np.zeros((batch_size, 32), np.float32)
    action = np.zeros((batch_size, 3), np.float32)
    state = model.initial_state(batch_size)
    model.step(z, action, state)
    start = time.perf_counter()
    for _ in range(repeats):
        _, _, state = model.step(z, action, state)
    float(state[0][0, 0])
    return 1000 * (time.perf_counter() - start) / repeats


def dream_rate(model, dreams: int, batched: bool, steps: int = 50) -> float:
    """Dream steps per second for `dreams` dreams, all in one environment or one by one."""
    initial = np.zeros((dreams, 32), np.float32)
    groups = [initial] if batched else [initial[i : i + 1] for i in range(dreams)]
    environments = [memory.DreamEnv(model, group, seed=0) for group in groups]
    for environment in environments:
        environment.reset()
        environment.step(environment.action_space.sample())
    start = time.perf_counter()
    for environment in environments:
        for _ in range(steps):
            environment.step(environment.action_space.sample())
    return dreams * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    arguments = parser.parse_args()
    model = memory.build_mdnrnn(config.get("paper").memory, latent_size=32, action_size=3)
    print(f"device: {device()}")
    rate = training_rate(model, 16, 999, arguments.steps)
    print(f"training, 16 sequences of 999 steps: {rate:.1f} sequences/s")
    for batch_size in (1, 64):
        print(f"step at batch {batch_size:2d}: {step_latency(model, batch_size):.2f} ms")
    for batched in (True, False):
        label = "in one batch" if batched else "one at a time"
        print(f"64 dreams {label}: {dream_rate(model, 64, batched):.0f} dream steps/s")


if __name__ == "__main__":
    main()
