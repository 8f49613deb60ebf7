"""Controllers trained in dreams of several temperatures, each scored in its dream and in the
real game (chapter 11: the paper's Doom table).

A cold dream (τ well below 1) is nearly deterministic and easy to exploit: C learns moves that
fool M, not moves that survive the game. For every temperature of `dream.temperatures` CMA-ES
runs in M's dream; its kept mean is scored on fixed dreams at that temperature and on the real
game's fixed evaluation episodes. The profile's own temperature is the `controller_dream` stage.
"""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from wmlib import config, files
from wmlib.artefacts import build
from wmlib.pipeline.controller import (
    controller_dimension,
    controller_dir,
    controller_settings,
    ensure_controller,
    ensure_evaluation,
    score_on_tracks,
    scored_returns,
)
from wmlib.pipeline.dream import dream_control, dream_search

DREAM_RETURNS_FILE = "dream_returns.json"
"""A controller's returns in the fixed dreams, in order."""


def temperatures_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's comparison of dream temperatures, one subfolder per τ."""
    return (profile or config.active()).data_dir / "temperatures"


def at_temperature(profile: config.Profile, temperature: float) -> config.Profile:
    """The profile with its dream at `temperature`."""
    return replace(profile, dream=replace(profile.dream, temperature=temperature))


def ensure_temperatures(profile: config.Profile | None = None, workers: int = 0) -> dict:
    """By temperature: the search's history, the kept generation and controller, and its
    returns in the fixed dreams (`dream`) and on the real evaluation episodes (`real`), running
    the searches and scorings that are missing; each resumes where it stopped."""
    profile = profile or config.active()
    directory = temperatures_dir(profile)

    def make() -> dict:
        for temperature in profile.dream.temperatures:
            _run(profile, temperature, directory, workers)
        found = results()
        return {
            "temperatures": list(found),
            "dream_means": [round(float(result["dream"].mean()), 1) for result in found.values()],
            "real_means": [round(float(result["real"].mean()), 1) for result in found.values()],
        }

    def results() -> dict:
        return {
            temperature: _read(profile, temperature, _folder(directory, temperature), workers)
            for temperature in profile.dream.temperatures
        }

    settings = {
        **controller_settings(profile, True, "dream"),
        "temperatures": list(profile.dream.temperatures),
    }
    inputs = {"controller": controller_dir(profile, origin="dream")}
    ensure_evaluation(profile, workers=workers, origin="dream")  # timed as its own stage
    build(directory, profile.name, settings, make, inputs=inputs)
    return results()


def _folder(directory: Path, temperature: float) -> Path:
    """The subfolder of one temperature's search and scores."""
    return directory / f"tau_{temperature:.2f}"


def _run(profile: config.Profile, temperature: float, directory: Path, workers: int) -> None:
    """One temperature's search in the dream and its scoring in fixed dreams and in the real
    game (the profile's own τ: its `controller_dream` and `evaluation_dream` stages)."""
    from wmlib import search

    tempered, folder = at_temperature(profile, temperature), _folder(directory, temperature)
    folder.mkdir(parents=True, exist_ok=True)
    dreams = dream_search(tempered, True, workers)
    if temperature == profile.dream.temperature:
        parameters = ensure_controller(profile, workers=workers, origin="dream")["best"]
    else:
        dimension = controller_dimension(tempered, True)
        state = search.search(
            dreams.fitness, dreams.score, dimension, dream_control(tempered), folder
        )
        parameters = state["best"]
        score_on_tracks(tempered, True, workers, parameters["parameters"], folder)
    if not (folder / DREAM_RETURNS_FILE).exists():
        returns = dreams.fixed_returns(
            parameters["parameters"], profile.control.evaluation_episodes
        )
        files.write_json(folder / DREAM_RETURNS_FILE, [float(value) for value in returns])


def _read(profile: config.Profile, temperature: float, folder: Path, workers: int) -> dict:
    """One temperature's search history, kept generation and controller (`parameters`), and
    its returns in the fixed dreams (as many as the real evaluation's episodes) and in the real
    game."""
    from wmlib import search

    tempered = at_temperature(profile, temperature)
    if temperature == profile.dream.temperature:
        state = ensure_controller(profile, workers=workers, origin="dream")
        real = ensure_evaluation(profile, workers=workers, origin="dream")["returns"]
    else:
        dimension = controller_dimension(tempered, True)
        state = search.load_search(folder, dimension, dream_control(tempered))
        real = scored_returns(folder, tempered.control)
    return {
        "history": state["history"],
        "generation": int(state["best"]["generation"]),
        "parameters": state["best"]["parameters"],
        "dream": np.array(json.loads((folder / DREAM_RETURNS_FILE).read_text())),
        "real": real,
    }
