"""Benchmark: what the agent costs next to CarRacing, and CMA-ES rollouts with 1 and 2 workers,
locally and on Dask.

    python bench/control.py [--steps 500]

1. One process, TensorFlow on one thread (as in a rollout worker): the V+M+C agent drives the
   same episodes 1, 4, 8, 16 and 32 in lock-step; the time spent in the agent's `act` (V, M and C)
   per environment step is set against a step of Gymnasium's own CarRacing-v3 (the speed
   issue's goal: ≤ 0.10 of it) and against FastCarRacing's (its steps, resets and rendering).
2. `agent.Rollouts` scoring a `small` generation (16 candidates × 2 tracks): with 2 local worker
   processes at each lock-step size (`environments_per_task`, chosen from these numbers); at the
   profile's size with 1 and 2 local workers, then with 2 Dask workers of a `LocalCluster` on
   this machine (the same code path as a cluster of machines), each after a warm-up that loads
   V and M in every worker.

V and M are untrained: their cost does not depend on their weights. The numbers measured on the
project's machine are in bench/README.md.
"""

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import environment
import numpy as np
from distributed import LocalCluster

from wmlib import agent, config, memory, vision
from wmlib.env import task
from wmlib.runtime import use_one_thread
from wmlib.workers import SCHEDULER_VARIABLE

LOCK_STEP_SIZES = (1, 4, 8, 16, 32)
"""Environments driven in lock-step, one batch of V and M per step (`environments_per_task`)."""


class TimedAgent:
    """Wraps the agent in `agent.drive` and adds up the time spent in its `act`."""

    def __init__(self, driver: agent.Agent):
        self.agent, self.task, self.seconds = driver, driver.task, 0.0

    def reset(self, parameters, seeds):
        self.agent.reset(parameters, seeds)

    def act(self, frames):
        start = time.perf_counter()
        actions = self.agent.act(frames)
        self.seconds += time.perf_counter() - start
        return actions

    def keep(self, rows):
        self.agent.keep(rows)


def stock_step_seconds(steps: int) -> float:
    """Seconds per step of Gymnasium's own CarRacing-v3 on a Brownian episode (its reset
    included, as `bench/environment.py` times it), the yardstick."""
    start = time.perf_counter()
    played = environment.play("gymnasium", seed=0, steps=steps)
    return (time.perf_counter() - start) / played


def agent_cost(steps: int, episodes: int = 32) -> None:
    """Drive `episodes` episodes at each lock-step size; set the agent's time per environment
    step against the stock environment's step and against the fast one's."""
    profile = config.get("small")
    driver = agent.Agent(*untrained_models(profile), task(profile.task), profile.frame)
    parameters = np.random.default_rng(0).normal(scale=0.1, size=(episodes, 867))
    stock = stock_step_seconds(steps)
    print(f"Gymnasium's CarRacing-v3: {stock * 1e3:.2f} ms a step")
    for batch in LOCK_STEP_SIZES:
        agent.drive(driver, parameters[:batch], list(range(batch)), 2)  # compiles V and M
        timed = TimedAgent(driver)
        start = time.perf_counter()
        for first in range(0, episodes, batch):
            seeds = list(range(first, first + batch))
            agent.drive(timed, parameters[first : first + batch], seeds, steps)
        environment_seconds = time.perf_counter() - start - timed.seconds
        played = episodes * steps
        print(
            f"{batch:2d} in lock-step: agent {timed.seconds / played * 1e3:.2f} ms a step, "
            f"{timed.seconds / played / stock:.3f} of the stock step (goal ≤ 0.10); "
            f"FastCarRacing {environment_seconds / played * 1e3:.2f} ms a step"
        )


def untrained_models(profile: config.Profile):
    """V and M at the profile's sizes, untrained: their cost does not depend on their weights."""
    vae = vision.build_vae(profile.vision)
    action_size = task(profile.task).action_size
    return vae, memory.build_mdnrnn(profile.memory, profile.vision.latent_size, action_size)


def rollout_rate(files: agent.AgentFiles, settings, workers: int, steps: int) -> float:
    """Agent steps per second of a `small` generation's rollouts (16 candidates × 2 tracks),
    after a warm-up that loads V and M in every worker and compiles them for its batch size."""
    episodes = settings.population_size * settings.episodes_per_candidate
    candidates = np.random.default_rng(0).normal(scale=0.1, size=(episodes, 867))
    warm_up = min(settings.environments_per_task * workers, episodes)
    with agent.Rollouts(files, settings, workers) as rollouts:
        rollouts.returns(candidates[:warm_up], list(range(warm_up)), 10)
        start = time.perf_counter()
        rollouts.returns(candidates, list(range(episodes)), steps)
        return episodes * steps / (time.perf_counter() - start)


def rollout_throughput(steps: int) -> None:
    """Rollouts with 2 local workers at each lock-step size; at the profile's, with 1 and 2 local
    workers, then with 2 Dask workers on this machine."""
    profile = config.get("small")
    with tempfile.TemporaryDirectory() as scratch:
        paths = (str(Path(scratch) / "vae.keras"), str(Path(scratch) / "mdnrnn.keras"))
        for model, path in zip(untrained_models(profile), paths, strict=True):
            model.save(path)
        files = agent.AgentFiles(profile.task, profile.frame, *paths)
        for size in LOCK_STEP_SIZES[1:]:
            settings = dataclasses.replace(profile.control, environments_per_task=size)
            rate = rollout_rate(files, settings, 2, steps)
            print(f"CMA-ES rollouts, 2 local workers, {size:2d} in lock-step: {rate:6.0f} steps/s")
        chosen = profile.control.environments_per_task
        rates = {}
        for workers in (1, 2):
            rates[workers] = rollout_rate(files, profile.control, workers, steps)
            print(
                f"CMA-ES rollouts, {workers} local worker(s), {chosen} in lock-step (the "
                f"profile's): {rates[workers]:6.0f} agent steps/s"
            )
        print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}×")
        with LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            os.environ[SCHEDULER_VARIABLE] = cluster.scheduler_address
            dask = rollout_rate(files, profile.control, 2, steps)
            del os.environ[SCHEDULER_VARIABLE]
        print(
            f"CMA-ES rollouts, 2 Dask workers: {dask:6.0f} agent steps/s, "
            f"{dask / rates[2]:.2f}× the local pool's"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=500)
    arguments = parser.parse_args()
    use_one_thread()
    print(f"{os.cpu_count()} cores; episodes of {arguments.steps} steps")
    agent_cost(arguments.steps)
    rollout_throughput(arguments.steps)


if __name__ == "__main__":
    main()
