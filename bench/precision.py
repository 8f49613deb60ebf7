"""Benchmark: V and M in float32 against bfloat16 (`precision`), side by side.

    python bench/precision.py [--steps 5] [--rounds 3]

At Take Cover's `small` shapes (z of 64, one action, an LSTM of 512): V's training step at batch
100, M's at 16 sequences of 500 steps, V encoding a batch of 64 frames, M stepping 1,024 dreams
(a whole generation of the paper's size) once, and the agent's XLA-compiled step of V and M at 16
games in lock-step. Each measurement runs for both precisions in turn, `--rounds` times, and the
medians are printed with their ratio. The numbers measured on the project's machine are in
bench/README.md.
"""

import argparse
import statistics
import time

import numpy as np

from wmlib import agent, config, memory, vision
from wmlib.env import task
from wmlib.runtime import device, tf

tf.get_logger().setLevel("ERROR")  # new agents every round: TF would warn of retracing

LATENT, ACTIONS = 64, 1


def seconds_per_call(function, repeats: int) -> float:
    """Mean seconds per call of `function`, after a warm-up call; `function` returns a tensor."""
    np.asarray(function())
    start = time.perf_counter()
    for _ in range(repeats):
        result = function()
    np.asarray(result)
    return (time.perf_counter() - start) / repeats


def vision_measurements(vae, steps: int) -> dict:
    """Seconds per V training step at batch 100 and per encoding of 64 frames."""
    frames = np.random.default_rng(0).integers(0, 256, (100, 64, 64, 3), dtype=np.uint8)
    batch = vision.to_float(frames)
    train_step = tf.function(vae.train_step)
    return {
        "V training step, batch 100": seconds_per_call(lambda: train_step(batch)["loss"], steps),
        "V encoding, batch 64": seconds_per_call(
            lambda: vision.encode(vae, frames[:64]), 20 * steps
        ),
    }


def memory_measurements(model, steps: int) -> dict:
    """Seconds per M training step (16 × 500 steps) and per dream step of 1,024 dreams."""
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(16, 501, LATENT)).astype(np.float32)
    batch = (
        mean,
        np.full_like(mean, -2.0),
        rng.uniform(-1, 1, (16, 501, ACTIONS)).astype(np.float32),
        np.zeros((16, 501), np.float32),
        np.ones((16, 501), np.float32),
    )
    train_step = tf.function(model.train_step)
    z, action = tf.zeros((1024, LATENT)), tf.zeros((1024, ACTIONS))
    state = model.initial_state(1024)
    return {
        "M training step, 16 × 500": seconds_per_call(lambda: train_step(batch)["loss"], steps),
        "M step of 1,024 dreams": seconds_per_call(
            lambda: model.step(z, action, state)[1], 20 * steps
        ),
    }


def agent_measurement(vae, mdnrnn, steps: int) -> dict:
    """Seconds per step of the agent (V and M in one XLA-compiled call) at 16 games."""
    doom = task("doom")
    runner = agent.Agent(vae, mdnrnn, doom)
    dimension = LATENT + 2 * mdnrnn.hidden_units
    runner.reset(np.zeros((16, dimension), np.float32), list(range(16)))
    frames = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
    return {
        "agent step, 16 games": seconds_per_call(lambda: runner.act_on_frames(frames), 50 * steps)
    }


def measurements(precision, steps: int) -> dict:
    """Every measurement of V and M built in `precision`."""
    vae = vision.build_vae(config.VisionConfig(latent_size=LATENT, precision=precision))
    settings = config.MemoryConfig(hidden_units=512, precision=precision)
    mdnrnn = memory.build_mdnrnn(settings, LATENT, ACTIONS)
    return {
        **vision_measurements(vae, steps),
        **memory_measurements(mdnrnn, steps),
        **agent_measurement(vae, mdnrnn, steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(f"device: {device()}")
    times = {precision: {} for precision in config.PRECISIONS}
    for _ in range(arguments.rounds):
        for precision in config.PRECISIONS:
            for name, seconds in measurements(precision, arguments.steps).items():
                times[precision].setdefault(name, []).append(seconds)
    for name in times[None]:
        single = statistics.median(times[None][name])
        half = statistics.median(times["bfloat16"][name])
        print(
            f"{name}: float32 {1000 * single:.1f} ms, bfloat16 {1000 * half:.1f} ms, "
            f"{single / half:.2f}×"
        )


if __name__ == "__main__":
    main()
