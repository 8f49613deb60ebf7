"""C's artefacts: CMA-ES's search for the controller, its evaluation on fixed tracks, a video.

In a later round of iterative training the search starts from the previous round's controller;
a search may also run in M's dream, and a real one start from the dream's controller.
"""

import json
import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from wmlib import config, files
from wmlib.artefacts import build
from wmlib.env import task as get_task
from wmlib.pipeline.dream import (
    dream_control,
    dream_search,
    ensure_reward_head,
    reward_head_dir,
)
from wmlib.pipeline.model import (
    ensure_mdnrnn,
    ensure_vae,
    mdnrnn_dir,
    memory_settings,
    vae_dir,
)

ORIGINS = ("real", "dream", "warm")
"""Where a controller is searched: in the real environment from all-zero parameters, in M's
dream, or in the real environment from the controller found in the dream. Where none is given,
the task's own (`own_origin`)."""


def own_origin(profile: config.Profile) -> str:
    """Where the task's agent is searched: in M's dream for a task whose C learns only there
    (`Task.trained_in_dream`), in the real environment otherwise."""
    return "dream" if get_task(profile.task).trained_in_dream else "real"


def _folder(
    profile: config.Profile | None, kind: str, use_memory: bool, origin: str | None
) -> Path:
    """The folder of a controller's artefact of `kind`, with the suffixes of the z-only ablation
    and of a controller not searched from zeros in the real environment (`origin`, by default
    the task's own)."""
    profile = profile or config.active()
    origin = origin or own_origin(profile)
    if origin not in ORIGINS:
        raise ValueError(f"Unknown origin {origin!r} of a controller; choose one of {ORIGINS}.")
    variant = ("" if use_memory else "_z_only") + ("" if origin == "real" else f"_{origin}")
    return profile.data_dir / f"{kind}{variant}"


def controller_dir(
    profile: config.Profile | None = None, use_memory: bool = True, origin: str | None = None
) -> Path:
    """The folder of a profile's CMA-ES search for C: the resumable search, history, best."""
    return _folder(profile, "controller", use_memory, origin)


def controller_settings(
    profile: config.Profile, use_memory: bool, origin: str | None = None
) -> dict:
    """Everything a trained C depends on: V's and M's settings, C's own, its inputs, and the
    dream's settings for a controller searched in the dream or from there."""
    origin = origin or own_origin(profile)
    control = profile.control if origin == "dream" else search_control(profile, origin, use_memory)
    settings = {**memory_settings(profile), "control": asdict(control), "use_memory": use_memory}
    if origin != "real":
        dream = asdict(profile.dream)
        dream.pop("temperatures")  # what the comparison of temperatures runs, not this C
        settings.update(origin=origin, dream=dream)
    return settings


def search_control(
    profile: config.Profile, origin: str = "real", use_memory: bool = True
) -> config.ControlConfig:
    """The settings C's search from `origin` runs with: the dream's (`dream_control`); for the
    warm start, the profile's at the comparison budget (`comparison_generations`), to be set
    against the cold search at equal generations; for C on z only, its own budget
    (`z_only_generations`); for a later round of iterative training, its shorter fine-tuning
    (`iteration.generations`); otherwise the profile's own."""
    if origin == "dream":
        return dream_control(profile)
    if origin == "warm":
        return replace(profile.control, generations=profile.comparison_generations)
    if not use_memory and profile.z_only_generations:
        return replace(profile.control, generations=profile.z_only_generations)
    if profile.round:
        return replace(profile.control, generations=profile.iteration.generations)
    return profile.control


def _agent_files(profile: config.Profile, use_memory: bool, workers: int):
    """The saved V and M the profile's agent drives with (trained first if needed)."""
    from wmlib import agent

    ensure_vae(profile, workers)
    mdnrnn_path = None
    if use_memory:
        ensure_mdnrnn(profile, workers)
        mdnrnn_path = str(mdnrnn_dir(profile) / "mdnrnn.keras")
    return agent.AgentFiles(
        profile.task, profile.frame, str(vae_dir(profile) / "vae.keras"), mdnrnn_path
    )


def _drivers(profile: config.Profile, use_memory: bool, workers: int):
    """Worker processes that drive the profile's agent (training V and M first if needed): up to
    `workers` of them (0: one per core), with the time limit and retries of `profile.pool`."""
    from wmlib import agent

    files = _agent_files(profile, use_memory, workers)
    return agent.Rollouts(files, profile.control, workers, profile.pool)


def exploring_agent(profile: config.Profile, workers: int = 0):
    """The profile's agent (the task's own C, `own_origin`) as a data policy with noisy actions:
    what records the next round of iterative training (`iteration.action_noise`)."""
    from wmlib import agent

    parameters = ensure_controller(profile, workers=workers)["best"]["parameters"]
    files = _agent_files(profile, True, workers)
    return agent.AgentPolicy(files, parameters, profile.iteration.action_noise)


def controller_dimension(profile: config.Profile, use_memory: bool) -> int:
    """The number of C's parameters: on [z, h] (the task's [z, c, h] for Doom), or on z alone."""
    from wmlib import controller

    task = get_task(profile.task)
    inputs = controller.input_size(
        profile.vision.latent_size,
        profile.memory.hidden_units,
        use_memory,
        task.controller_reads_cell,
    )
    return controller.parameter_count(inputs, task.action_size, task.controller_bias)


def real_search(
    profile: config.Profile,
    use_memory: bool,
    workers: int,
    directory: Path,
    start: np.ndarray | None = None,
) -> dict:
    """CMA-ES in the real environment with `profile.control`, from `start` (zeros by default),
    saved in `directory` after every generation (and resumed from there)."""
    from wmlib import search

    settings = profile.control
    with _drivers(profile, use_memory, workers) as drivers:
        return search.search(
            lambda candidates, generation: drivers.fitness(
                candidates, search.training_seeds(settings, generation)
            ),
            lambda mean: drivers.score(mean, search.mean_evaluation_seeds(settings)).mean(),
            controller_dimension(profile, use_memory),
            settings,
            directory,
            start,
        )


def ensure_controller(
    profile: config.Profile | None = None,
    use_memory: bool = True,
    workers: int = 0,
    origin: str | None = None,
) -> dict:
    """The profile's CMA-ES search for C (run or resumed as needed): its `history` per
    generation and its `best` mean, the controller the search returns.

    `use_memory=False` is the paper's ablation: C sees z only, and M is never run in the real
    environment. `origin` (`ORIGINS`) says where the search runs and where it starts; in a
    later round of iterative training the search starts from the previous round's C, found
    where this one searches.
    """
    from wmlib import search

    profile = profile or config.active()
    origin = origin or own_origin(profile)
    settings = search_control(profile, origin, use_memory)
    directory = controller_dir(profile, use_memory, origin)
    dimension = controller_dimension(profile, use_memory)
    inputs = {"vae": vae_dir(profile)} | ({"mdnrnn": mdnrnn_dir(profile)} if use_memory else {})
    start = None
    if origin == "dream":
        inputs = {"mdnrnn": mdnrnn_dir(profile)}
        if get_task(profile.task).survival_reward is None:
            inputs["reward_head"] = reward_head_dir(profile)
            ensure_reward_head(profile, workers)  # before the search, whose time is its own
    elif origin == "warm":
        start = ensure_controller(profile, use_memory, workers, "dream")["best"]["parameters"]
        inputs["controller"] = controller_dir(profile, use_memory, "dream")
    if profile.round and origin != "warm":
        previous = config.at_round(profile, profile.round - 1)
        start = ensure_controller(previous, use_memory, workers, origin)["best"]["parameters"]
        inputs["controller"] = controller_dir(previous, use_memory, origin)

    def make() -> dict:
        if origin == "dream":
            dreams = dream_search(profile, use_memory, workers)
            state = search.search(
                dreams.fitness, dreams.score, dimension, settings, directory, start
            )
        else:
            searched = replace(profile, control=settings)
            state = real_search(searched, use_memory, workers, directory, start)
        return {
            "parameters": dimension,
            "generations": state["generation"],
            "best_mean_score": float(state["best"]["score"]),
            "chosen_generation": int(state["best"]["generation"]),
        }

    settings_of_c = controller_settings(profile, use_memory, origin)
    budget = ("dream.generations",) if origin == "dream" else ("control.generations",)
    build(directory, profile.name, settings_of_c, make, budget, inputs)
    return search.load_search(directory, dimension, settings, start)


def evaluation_dir(
    profile: config.Profile | None = None, use_memory: bool = True, origin: str | None = None
) -> Path:
    """The folder of a profile's final evaluation of C: returns per track, a video, manifest."""
    return _folder(profile, "evaluation", use_memory, origin)


def ensure_evaluation(
    profile: config.Profile | None = None,
    use_memory: bool = True,
    workers: int = 0,
    origin: str | None = None,
) -> dict:
    """The trained C's returns on the profile's fixed evaluation tracks, and a video of it.

    Returns `{"seeds", "returns", "generation"}`. The first track is filmed while it is scored,
    inside its batch (`agent.gif` in `evaluation_dir`), so the video shows the very episode whose
    return is reported. Tracks already scored are kept when an interrupted run resumes.
    """
    from wmlib import search

    profile = profile or config.active()
    origin = origin or own_origin(profile)
    settings = profile.control
    best = ensure_controller(profile, use_memory, workers, origin)["best"]
    directory = evaluation_dir(profile, use_memory, origin)

    def make() -> dict:
        returns = score_on_tracks(profile, use_memory, workers, best["parameters"], directory)
        return {
            "episodes": len(returns),
            "mean": round(float(returns.mean()), 1),
            "std": round(float(returns.std()), 1),
            "generation": int(best["generation"]),
        }

    evaluation_settings = controller_settings(profile, use_memory, origin)
    inputs = {"controller": controller_dir(profile, use_memory, origin)}
    budget = ("control.evaluation_episodes",)
    build(directory, profile.name, evaluation_settings, make, budget, inputs)
    seeds = search.evaluation_seeds(settings)
    return {
        "seeds": seeds,
        "returns": scored_returns(directory, settings),
        "generation": int(best["generation"]),
    }


RETURNS_FILE = "returns.json"
"""An evaluation's return on each track, by seed."""


def score_on_tracks(
    profile: config.Profile, use_memory: bool, workers: int, parameters, directory: Path
) -> np.ndarray:
    """A controller's returns on the profile's fixed evaluation tracks, in the order of their
    seeds, saved in `directory` batch by batch (tracks already there are kept).

    The first track is filmed while it is scored, inside its batch (`agent.gif`), so the video
    shows the very episode whose return is reported; without its video it is scored anew.
    """
    from wmlib import agent, search

    settings = profile.control
    results_path, video_path = directory / RETURNS_FILE, directory / "agent.gif"
    seeds = search.evaluation_seeds(settings)
    scored = json.loads(results_path.read_text()) if results_path.exists() else {}
    if not video_path.exists():
        scored.pop(str(seeds[0]), None)  # filmed again, and scored by the filmed episode
    video = agent.Video(seeds[0], str(video_path))
    chunk = settings.environments_per_task * (workers or os.cpu_count())
    with (
        _drivers(profile, use_memory, workers) as drivers,
        tqdm(total=len(seeds), initial=len(scored), desc="evaluation", unit="episode") as progress,
    ):
        for start in range(0, len(seeds), chunk):
            missing = [seed for seed in seeds[start : start + chunk] if str(seed) not in scored]
            if missing:
                returns = drivers.score(parameters, missing, video)
                scored.update(zip(map(str, missing), map(float, returns), strict=True))
                files.write_json(results_path, scored)
                progress.update(len(missing))
    return scored_returns(directory, settings)


def scored_returns(directory: Path, settings: config.ControlConfig) -> np.ndarray:
    """The returns an evaluation saved in `directory`, in the order of the evaluation seeds."""
    from wmlib import search

    scored = json.loads((directory / RETURNS_FILE).read_text())
    return np.array([scored[str(seed)] for seed in search.evaluation_seeds(settings)])
