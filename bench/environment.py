"""Benchmark: Gymnasium's CarRacing-v3 against FastCarRacing, in one process and in two.

    python bench/environment.py [--episodes 4] [--steps 1000]

Both environments play the same Brownian episodes (the project's data policy, seeded), through
`carracing.make_env` with `renderer="gymnasium"` and `renderer="fast"`: first one episode at a
time in this process, then two at a time in two worker processes of a `WorkerPool`. The two
take turns, episode by episode (a pair of episodes with the workers), so that other work on the
machine slows both alike: the ratio between them is what counts. The machine's load average is
printed beside each result. The numbers measured on the project's machine are in
bench/README.md.
"""

import argparse
import os
import time

import numpy as np

from wmlib.env import carracing
from wmlib.workers import WorkerPool

RENDERERS = ("gymnasium", "fast")


def play(renderer: str, seed: int, steps: int) -> int:
    """Play one seeded Brownian episode, cut at `steps` steps; return the steps played."""
    environment = carracing.make_env(steps, renderer=renderer)
    policy = carracing.BrownianPolicy()
    policy.reset(np.random.default_rng(seed), carracing.RAW_SHAPE)
    environment.reset(seed=seed)
    played, ended = 0, False
    while not ended:
        *_, terminated, truncated, _ = environment.step(policy.act(None))
        played, ended = played + 1, terminated or truncated
    environment.close()
    return played


def in_one_process(episodes: int, steps: int) -> dict[str, float]:
    """Steps per second of each renderer, playing one episode at a time in this process."""
    play("fast", 0, 10)  # loads Box2D, pygame and the font before the clock starts
    played, seconds = dict.fromkeys(RENDERERS, 0), dict.fromkeys(RENDERERS, 0.0)
    for seed in range(episodes):
        for renderer in RENDERERS:
            start = time.perf_counter()
            played[renderer] += play(renderer, seed, steps)
            seconds[renderer] += time.perf_counter() - start
    return {renderer: played[renderer] / seconds[renderer] for renderer in RENDERERS}


def with_two_workers(episodes: int, steps: int) -> dict[str, float]:
    """Steps per second of each renderer, playing two episodes at a time in two worker
    processes, after a warm-up that starts both workers."""
    played, seconds = dict.fromkeys(RENDERERS, 0), dict.fromkeys(RENDERERS, 0.0)
    with WorkerPool(2, time_limit=max(60.0, steps / 10)) as pool:
        pool.map(play, [("fast", 0, 10)] * 2)
        for first_seed in range(0, episodes, 2):
            for renderer in RENDERERS:
                pair = [(renderer, seed, steps) for seed in (first_seed, first_seed + 1)]
                start = time.perf_counter()
                played[renderer] += sum(pool.map(play, pair))
                seconds[renderer] += time.perf_counter() - start
    return {renderer: played[renderer] / seconds[renderer] for renderer in RENDERERS}


def report(setting: str, rates: dict[str, float], load_before: float) -> None:
    """Print both rates, their ratio, and the load average (1 minute) before and after."""
    print(
        f"{setting}: Gymnasium {rates['gymnasium']:5.0f} steps/s, fast {rates['fast']:5.0f} "
        f"steps/s, {rates['fast'] / rates['gymnasium']:.2f}× (load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=4, help="per renderer; an even number")
    parser.add_argument("--steps", type=int, default=1000)
    arguments = parser.parse_args()
    print(f"{os.cpu_count()} cores; {arguments.episodes} episodes of {arguments.steps} steps each")
    load = os.getloadavg()[0]
    report("1 process", in_one_process(arguments.episodes, arguments.steps), load)
    load = os.getloadavg()[0]
    report("2 workers", with_two_workers(arguments.episodes, arguments.steps), load)


if __name__ == "__main__":
    main()
