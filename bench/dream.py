"""Benchmark: a generation of Take Cover's search in M's dream, against the real game.

    python bench/dream.py [--game-steps 4000]

1. The real game: steps per second of Take Cover (`doom.make_env`, one process) driven by the
   paper's held random policy, each screen shrunk to 64×64 as a recording does.
2. The dream: a whole generation at the paper's size, 64 candidates × 16 dreams = 1,024 dreams
   in one batch, up to 2,100 steps at τ = 1.15, in the `small` profile's trained M (z of 64, an
   LSTM of 512): `dream.dream_returns`, in which a dream that ended leaves the batch, against
   the same dreams stepped together until the longest ends (as before that change), side by
   side on the same draws. A dream step is a step of one dream before it ended, so both count
   the sum of the returns.

The candidates are the published controller (`controller_dream`) plus Gaussian noise of σ = 0.1,
as CMA-ES samples them; M and the controller come from `data/` (`python -m wmlib
controller_dream --task doom --profile small` builds them). The numbers measured on the project's
machine are in bench/README.md.
"""

import argparse
import time

import numpy as np

from wmlib import config, controller, dream, memory, pipeline, training
from wmlib.env import doom

CANDIDATES, DREAMS = 64, 16
"""The paper's generation: its population, and the dreams each candidate is scored in."""


def game_steps_per_second(steps: int) -> float:
    """Steps per second of the real game with the held random policy, screens preprocessed."""
    env = doom.make_env()
    policy = doom.HeldRandomPolicy()
    done, taken, seed = True, 0, 0
    start = time.perf_counter()
    while taken < steps:
        if done:
            frame, _ = env.reset(seed=seed)
            policy.reset(np.random.default_rng(seed), (64, 64, 3))
            seed += 1
        frame, _, terminated, truncated, _ = env.step(doom.env_action(policy.act(frame)))
        doom.preprocess(frame)
        done, taken = terminated or truncated, taken + 1
    return steps / (time.perf_counter() - start)


def every_dream_to_the_end(mdnrnn, parameters, initial_z, settings, noise, steps: int) -> None:
    """The generation's dreams stepped together for `steps` steps, ended or not."""
    env = memory.DreamEnv(mdnrnn, initial_z, settings.temperature, steps)
    env.rng = noise
    z, _ = env.reset()
    for _ in range(steps):
        inputs = controller.features(z, env.state, reads_cell=True)
        actions = controller.act(parameters, inputs, doom.controller_action, bias=False)
        z, *_ = env.step(actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--game-steps", type=int, default=4000)
    arguments = parser.parse_args()
    profile = config.get("small", "doom")
    game = game_steps_per_second(arguments.game_steps)
    print(f"the real game: {game:,.0f} steps/s")

    mdnrnn = training.load_model(pipeline.mdnrnn_dir(profile) / "mdnrnn.keras")
    kept = pipeline.ensure_controller(profile, origin="dream")["best"]["parameters"]
    train, _ = pipeline.memory_sequences(profile)
    rng = np.random.default_rng(0)
    starts = [train[index] for index in rng.integers(len(train), size=DREAMS)]
    initial_z = np.stack([episode["mean"][0] for episode in starts] * CANDIDATES)
    candidates = kept + rng.normal(scale=0.1, size=(CANDIDATES, kept.size))
    parameters = np.repeat(candidates, DREAMS, axis=0)
    settings = profile.dream

    start = time.perf_counter()
    returns = dream.dream_returns(
        mdnrnn, None, parameters, initial_z, doom.TASK, settings, dream.SharedNoise(1, CANDIDATES)
    )
    leaving = time.perf_counter() - start
    start = time.perf_counter()
    every_dream_to_the_end(
        mdnrnn,
        parameters,
        initial_z,
        settings,
        dream.SharedNoise(1, CANDIDATES),
        int(returns.max()),
    )
    together = time.perf_counter() - start
    dream_steps = returns.sum()
    print(
        f"a generation of {CANDIDATES} × {DREAMS} dreams: {dream_steps:,.0f} dream steps "
        f"(mean {returns.mean():.0f}, longest {returns.max():.0f})"
    )
    for label, seconds in (("ended dreams leave", leaving), ("every dream to the end", together)):
        rate = dream_steps / seconds
        print(f"  {label}: {seconds:.1f} s, {rate:,.0f} dream steps/s, {rate / game:.1f}× the game")
    print(f"  ended dreams leaving the batch: {together / leaving:.2f}× faster")


if __name__ == "__main__":
    main()
