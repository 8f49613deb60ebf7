"""Benchmark: episode collection throughput with 1 and 2 worker processes.

    python bench/collection.py [--episodes 4] [--steps 1000]

Prints environment steps per second and episodes per second for each worker count. The
numbers measured on the project's machine are in bench/README.md.
"""

import argparse
import os
import tempfile
import time

from wmlib import config, files, rollouts


def measure(workers: int, episodes: int, steps: int) -> tuple[float, float]:
    """Collect `episodes` Brownian episodes into a scratch folder; return (steps/s, episodes/s)."""
    settings = config.RolloutConfig(episodes=episodes, max_steps=steps, policy="brownian")
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        paths = rollouts.collect(scratch, "carracing", settings, workers=workers)
        seconds = time.perf_counter() - start
        played = sum(len(files.load_episode(path).actions) for path in paths)
    return played / seconds, episodes / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1000)
    arguments = parser.parse_args()
    print(f"{os.cpu_count()} cores; {arguments.episodes} episodes of {arguments.steps} steps")
    for workers in (1, 2):
        steps_per_second, episodes_per_second = measure(
            workers, arguments.episodes, arguments.steps
        )
        print(
            f"{workers} worker(s): {steps_per_second:6.0f} steps/s, "
            f"{episodes_per_second:.3f} episodes/s"
        )


if __name__ == "__main__":
    main()
