"""Benchmark: V's training throughput (images/s) and encoding throughput (frames/s).

    python bench/vision.py [--steps 30]

Trains the paper's ConvVAE on random frames at batch sizes 32 and 100 through `fit`'s own
train step, and encodes frames with `wmlib.vision.encode` at batch sizes 1 and 64. The numbers
measured on the project's machine are in bench/README.md.
"""

import argparse
import time

import numpy as np

from wmlib import config, vision
from wmlib.runtime import device, tf


def training_rate(batch_size: int, steps: int) -> float:
    """Images per second through `train_step`, after a warm-up step."""
    vae = vision.build_vae(config.VisionConfig(batch_size=batch_size))
    frames = tf.random.uniform((batch_size, *vision.FRAME_SHAPE))
    step = tf.function(vae.train_step)
    step(frames)
    start = time.perf_counter()
    for _ in range(steps):
        step(frames)
    float(vae.trackers["loss"].result())
    return batch_size * steps / (time.perf_counter() - start)


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
    parser.add_argument("--steps", type=int, default=30)
    arguments = parser.parse_args()
    print(f"device: {device()}")
    for batch_size in (32, 100):
        rate = training_rate(batch_size, arguments.steps)
        print(f"training, batch {batch_size:3d}: {rate:6.0f} images/s")
    for batch_size, frames in ((1, 300), (64, 6400)):
        print(f"encoding, batch {batch_size:3d}: {encoding_rate(batch_size, frames):6.0f} frames/s")


if __name__ == "__main__":
    main()
