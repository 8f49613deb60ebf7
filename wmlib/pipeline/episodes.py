"""The recorded episodes: the data policy's in round 0, and in a later round of iterative
training those the previous round's agent drove; the settings and inputs every later stage
derives from them.
"""

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from wmlib import config, files, rollouts
from wmlib.artefacts import build, read_manifest, write_manifest


def episodes_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's recorded episodes."""
    return (profile or config.active()).data_dir / "episodes"


def ensure_episodes(profile: config.Profile | None = None, workers: int = 0) -> list[Path]:
    """The paths of the profile's recorded episodes, collecting whichever are missing or invalid:
    the data policy's in round 0, the previous round's agent's in a later round.

    Every episode file is checked from its headers on every call, so one deleted or damaged
    after the collection finished is recorded again.
    """
    profile = profile or config.active()
    directory = episodes_dir(profile)
    collection = round_collection(profile)
    paths = [files.episode_path(directory, index) for index in range(collection.episodes)]
    inputs = {}
    if profile.round:
        from wmlib.pipeline.controller import controller_dir, exploring_agent

        previous = config.at_round(profile, profile.round - 1)
        inputs = {"controller": controller_dir(previous)}

    def make() -> dict:
        driver = exploring_agent(previous, workers) if profile.round else None
        rollouts.collect(
            directory, profile.task, collection, profile.frame, workers, profile.pool, driver
        )
        returns = [files.read_episode_arrays(path, ["rewards"])["rewards"].sum() for path in paths]
        return {
            "episodes": len(paths),
            "steps": files.count_steps(paths),
            "bytes": sum(path.stat().st_size for path in paths),
            "return_mean": round(float(np.mean(returns)), 1),
            "return_std": round(float(np.std(returns)), 1),
        }

    settings = data_settings(profile)
    reopen_if_damaged(directory, settings, lambda: bool(rollouts.unrecorded(paths)))
    budget = ("iteration.episodes",) if profile.round else ("rollouts.episodes",)
    build(directory, profile.name, settings, make, budget, inputs)
    return paths


def round_collection(profile: config.Profile) -> config.RolloutConfig:
    """The episodes a round records: the profile's collection in round 0; in a later round
    `iteration.episodes` of the same length, on tracks after every earlier round's."""
    if not profile.round:
        return profile.rollouts
    iteration, rollouts_config = profile.iteration, profile.rollouts
    earlier = rollouts_config.episodes + (profile.round - 1) * iteration.episodes
    return replace(
        rollouts_config,
        episodes=iteration.episodes,
        policy="agent",
        seed=rollouts_config.seed + earlier,
    )


def every_round_episodes(profile: config.Profile, workers: int = 0) -> list[list[Path]]:
    """The recorded episodes of rounds 0 to `profile.round`, one list per round."""
    return [
        ensure_episodes(config.at_round(profile, number), workers)
        for number in range(profile.round + 1)
    ]


def split_rounds(
    rounds: list[list[Path]], validation_fraction: float
) -> tuple[list[Path], list[Path]]:
    """(training, held-out) paths over every round, each round split as V's round 0 was, so
    that an episode once held out stays new to V and M in every later round."""
    from wmlib import vision

    splits = [vision.split_episodes(paths, validation_fraction) for paths in rounds]
    return [path for train, _ in splits for path in train], [
        path for _, held_out in splits for path in held_out
    ]


def round_inputs(name: str, directory, profile: config.Profile) -> dict[str, Path]:
    """The folders of one artefact in rounds 0 to `profile.round`, named for a manifest
    (round 0's keeps the plain name, as before iterative training existed)."""
    return {
        name if number == 0 else f"{name}_round_{number}": directory(
            config.at_round(profile, number)
        )
        for number in range(profile.round + 1)
    }


def reopen_if_damaged(directory: Path, settings: dict, damaged: Callable[[], bool]) -> None:
    """Mark a finished artefact of these settings unfinished when `damaged()` finds files of it
    missing or invalid: `build` makes them again and keeps its build id, so what was built from
    it stays valid (a published release's episodes and latents come as manifests alone)."""
    manifest = read_manifest(directory)
    finished = manifest is not None and manifest["complete"] and manifest["settings"] == settings
    if finished and damaged():
        write_manifest(directory, {**manifest, "complete": False})


def data_settings(profile: config.Profile) -> dict:
    """Everything the recorded episodes depend on (in a later round, the round and how rounds
    are run as well)."""
    settings = {
        "task": profile.task,
        "rollouts": asdict(profile.rollouts),
        "frame": asdict(profile.frame),
    }
    if profile.round:
        iteration = asdict(profile.iteration)
        iteration.pop("rounds")  # how many rounds follow this one changes nothing in it
        settings.update(round=profile.round, iteration=iteration)
    return settings
