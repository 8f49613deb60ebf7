"""Benchmark: NumPy's linear algebra in worker processes, on a thread per core or on one.

    python bench/worker_threads.py [--frames 200]

Two worker processes, one per core as the pipeline runs them, resize Take Cover screens
(240×320 → 64×64, two matrix products each) at the same time: first with NumPy's BLAS left to
start a thread per core in each worker, then with the one thread `workers.WORKER_ENVIRONMENT`
gives them. The two settings take turns, three rounds each, and the medians are compared. The
numbers measured on the project's machine are in bench/README.md.
"""

import argparse
import multiprocessing
import os
import statistics
import time

import numpy as np

SETTINGS = {"a thread per core": None, "one thread": "1"}
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def milliseconds_per_screen(frames: int) -> float:
    """Milliseconds a worker takes per screen, resizing `frames` random screens."""
    from wmlib.env import doom

    screens = np.random.default_rng(0).integers(0, 256, (8, *doom.RAW_SHAPE), np.uint8)
    doom.preprocess(screens[0])
    start = time.perf_counter()
    for index in range(frames):
        doom.preprocess(screens[index % len(screens)])
    return 1000 * (time.perf_counter() - start) / frames


def two_workers(threads: str | None, frames: int) -> float:
    """Milliseconds per screen, the mean of two workers started with `threads` BLAS threads."""
    saved = {name: os.environ.pop(name, None) for name in BLAS_VARIABLES}
    if threads:
        os.environ.update(dict.fromkeys(BLAS_VARIABLES, threads))
    try:
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            return statistics.mean(pool.map(milliseconds_per_screen, [frames, frames]))
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    frames = parser.parse_args().frames
    results = {name: [] for name in SETTINGS}
    for _ in range(3):
        for name, threads in SETTINGS.items():
            results[name].append(two_workers(threads, frames))
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, median in medians.items():
        print(f"{name}: {median:.2f} ms a screen (rounds: {results[name]})")
    ratio = medians["a thread per core"] / medians["one thread"]
    print(f"a thread per core ÷ one thread: {ratio:.1f}×; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
