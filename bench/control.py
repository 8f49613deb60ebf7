"""Benchmark: what the agent costs next to CarRacing, and CMA-ES rollouts with 1 and 2 workers.

    python bench/control.py [--steps 500]

1. One process, TensorFlow on one thread (as in a rollout worker): the V+M+C agent drives the
   same episodes alone and 4 in lock-step; the time spent in the agent's `act` (V, M and C) is
   set against the time spent in the environment (its steps, resets and rendering).
2. `control.Rollouts` scoring 16 candidates on one track each with 1 and with 2 worker
   processes, after a warm-up that loads V and M in every worker.

V and M are untrained: their cost does not depend on their weights. The numbers measured on the
project's machine are in bench/README.md.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from wmlib import config, control, memory, vision
from wmlib.runtime import tf


class TimedAgent:
    """Wraps the agent in `control.drive` and adds up the time spent in its `act`."""

    def __init__(self, agent: control.Agent):
        self.agent, self.seconds = agent, 0.0

    def reset(self, parameters, seeds):
        self.agent.reset(parameters, seeds)

    def act(self, frames):
        start = time.perf_counter()
        actions = self.agent.act(frames)
        self.seconds += time.perf_counter() - start
        return actions

    def keep(self, rows):
        self.agent.keep(rows)


def agent_cost(steps: int, episodes: int = 4) -> None:
    """Drive `episodes` episodes 1 and 4 at a time; split the time into agent and environment."""
    profile = config.get("small")
    agent = control.Agent(vision.build_vae(profile.vision), memory.build_mdnrnn(profile.memory))
    parameters = np.random.default_rng(0).normal(scale=0.1, size=(episodes, 867))
    for batch, report in ((4, False), (1, True), (4, True)):  # the first pass compiles V and M
        timed = TimedAgent(agent)
        start = time.perf_counter()
        for first in range(0, episodes, batch):
            seeds = list(range(first, first + batch))
            control.drive(timed, parameters[first : first + batch], seeds, steps)
        environment = time.perf_counter() - start - timed.seconds
        played = episodes * steps
        if report:
            print(
                f"{batch} in lock-step: environment {environment / played * 1e3:.2f} ms a step "
                f"({played / environment:.0f} steps/s), agent {timed.seconds / played * 1e3:.2f}"
                f" ms a step, {timed.seconds / environment:.0%} of the environment's time"
            )


def rollout_throughput(steps: int) -> None:
    profile = config.get("small")
    with tempfile.TemporaryDirectory() as scratch:
        models = (str(Path(scratch) / "vae.keras"), str(Path(scratch) / "mdnrnn.keras"))
        vision.build_vae(profile.vision).save(models[0])
        memory.build_mdnrnn(profile.memory).save(models[1])
        settings = profile.control
        candidates = np.random.default_rng(0).normal(scale=0.1, size=(16, 867))
        rates = {}
        for workers in (1, 2):
            with control.Rollouts(models, settings, workers) as rollouts:
                rollouts.returns(candidates[: 4 * workers], list(range(4 * workers)), 10)
                start = time.perf_counter()
                rollouts.returns(candidates, list(range(16)), steps)
                rates[workers] = 16 * steps / (time.perf_counter() - start)
            print(f"CMA-ES rollouts, {workers} worker(s): {rates[workers]:6.0f} agent steps/s")
        print(f"speed-up with 2 workers: {rates[2] / rates[1]:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=500)
    arguments = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    print(f"{os.cpu_count()} cores; episodes of {arguments.steps} steps")
    agent_cost(arguments.steps)
    rollout_throughput(arguments.steps)


if __name__ == "__main__":
    main()
