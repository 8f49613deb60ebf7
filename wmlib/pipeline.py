"""The artefact cache: one `ensure_*` call per stage of the pipeline.

Each call loads its artefact from `data/<profile>/<task>/` when it is there and was built with
the active profile's settings, and otherwise builds it (resuming whatever an interrupted build
left; `wmlib.artefacts` keeps the manifests). Chapters and the command line both come through
here; nothing else trains or collects. `wmlib.stages` lists the stages once.
"""

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from wmlib import config, files, rollouts
from wmlib.artefacts import ArtefactMismatchError, build, read_manifest
from wmlib.env import task as get_task


def episodes_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's recorded episodes."""
    return (profile or config.active()).data_dir / "episodes"


def ensure_episodes(profile: config.Profile | None = None, workers: int = 0) -> list[Path]:
    """The paths of the profile's recorded episodes, collecting whichever are missing."""
    profile = profile or config.active()
    directory = episodes_dir(profile)

    def make() -> dict:
        paths = rollouts.collect(directory, profile.task, profile.rollouts, profile.frame, workers)
        return {
            "episodes": len(paths),
            "steps": files.count_steps(paths),
            "bytes": sum(path.stat().st_size for path in paths),
        }

    build(directory, profile.name, _data_settings(profile), make, ("rollouts.episodes",))
    return [files.episode_path(directory, index) for index in range(profile.rollouts.episodes)]


def _data_settings(profile: config.Profile) -> dict:
    """Everything the recorded episodes depend on."""
    return {
        "task": profile.task,
        "rollouts": asdict(profile.rollouts),
        "frame": asdict(profile.frame),
    }


def _vision_settings(profile: config.Profile) -> dict:
    """Everything a trained V depends on: its own settings and those of its data."""
    return {**_data_settings(profile), "vision": asdict(profile.vision)}


def vae_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's trained V: checkpoint, history, final model, manifest."""
    return (profile or config.active()).data_dir / "vae"


def ensure_vae(profile: config.Profile | None = None, workers: int = 0):
    """The profile's trained ConvVAE, training it (and collecting its data) if needed."""
    from wmlib import training, vision  # TensorFlow is imported only by the stages that use it
    from wmlib.runtime import keras

    profile = profile or config.active()
    settings = profile.vision
    paths = ensure_episodes(profile, workers)
    directory = vae_dir(profile)
    model_path = directory / "vae.keras"

    def make() -> dict:
        keras.utils.set_random_seed(settings.seed)
        train, validation = vision.split_episodes(paths, settings.validation_fraction)
        frames = files.count_steps(train)
        validation_frames = files.count_steps(validation)
        if frames < settings.batch_size:
            raise ArtefactMismatchError(
                f"V has {frames} training frames, fewer than one batch (vision.batch_size = "
                f"{settings.batch_size}). Record more (rollouts.episodes, rollouts.max_steps) "
                f"or lower vision.batch_size."
            )
        vae, history = training.fit_resumable(
            lambda: vision.build_vae(settings),
            lambda first_epoch: vision.training_frames(train, settings, first_epoch),
            steps_per_epoch=frames // settings.batch_size,
            epochs=settings.epochs,
            directory=directory,
            validation_data=vision.frame_dataset(validation, settings, shuffle=False),
            validation_steps=-(-validation_frames // settings.batch_size),
        )
        training.save_atomically(vae, model_path)
        return {"training_frames": frames, "validation_episodes": len(validation), **history[-1]}

    build(directory, profile.name, _vision_settings(profile), make, ("vision.epochs",))
    return keras.models.load_model(model_path)


def latents_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's encoded episodes."""
    return (profile or config.active()).data_dir / "latents"


def ensure_latents(profile: config.Profile | None = None, workers: int = 0) -> list[Path]:
    """Paths of every episode encoded by V (μ, log σ² and actions), encoding what is missing."""
    from wmlib import vision

    profile = profile or config.active()
    episode_paths = ensure_episodes(profile, workers)
    directory = latents_dir(profile)
    paths = [directory / path.name for path in episode_paths]
    manifest = read_manifest(directory)
    vae = None if manifest and manifest["complete"] else ensure_vae(profile, workers)

    def make() -> dict:
        for source, target in tqdm(list(zip(episode_paths, paths, strict=True)), desc="latents"):
            if not target.exists():
                episode = files.load_episode(source)
                mean, log_variance = vision.encode(vae, episode.observations)
                files.save_latents(target, mean, log_variance, episode.actions)
        return {"episodes": len(paths)}

    build(directory, profile.name, _vision_settings(profile), make)
    return paths


def memory_sequences(profile: config.Profile | None = None, workers: int = 0):
    """(training, held-out) encoded episodes for M, split as V's episodes were.

    The held-out episodes are new to both V and M; each episode is a dict of arrays
    (`wmlib.memory.load_sequences`).
    """
    from wmlib import memory, vision

    profile = profile or config.active()
    latent_paths = ensure_latents(profile, workers)
    episode_paths = ensure_episodes(profile, workers)
    fraction = profile.vision.validation_fraction
    return tuple(
        memory.load_sequences(latents, episodes)
        for latents, episodes in zip(
            vision.split_episodes(latent_paths, fraction),
            vision.split_episodes(episode_paths, fraction),
            strict=True,
        )
    )


def mdnrnn_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's trained M: checkpoint, history, final model, manifest."""
    return (profile or config.active()).data_dir / "mdnrnn"


def _memory_settings(profile: config.Profile) -> dict:
    """Everything a trained M depends on: V's settings and its data's, and M's own."""
    return {**_vision_settings(profile), "memory": asdict(profile.memory)}


def ensure_mdnrnn(profile: config.Profile | None = None, workers: int = 0):
    """The profile's trained MDN-RNN, training it (and everything before it) if needed.

    M trains and validates on the same episodes V did (`memory_sequences`).
    """
    from wmlib import memory, training
    from wmlib.runtime import keras

    profile = profile or config.active()
    settings = profile.memory
    directory = mdnrnn_dir(profile)
    model_path = directory / "mdnrnn.keras"

    def make() -> dict:
        keras.utils.set_random_seed(settings.seed)
        train, validation = memory_sequences(profile, workers)
        frames = sum(len(sequence["mean"]) for sequence in train)
        steps_per_epoch = max(1, frames // (settings.batch_size * (settings.sequence_length + 1)))
        epochs = -(-settings.training_steps // steps_per_epoch)
        model, history = training.fit_resumable(
            lambda: memory.build_mdnrnn(
                settings, profile.vision.latent_size, get_task(profile.task).action_size
            ),
            lambda first_epoch: memory.training_batches(
                train, settings, first_epoch, epochs, steps_per_epoch
            ),
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            directory=directory,
            validation_data=memory.evaluation_batches(
                validation, settings.sequence_length, settings.batch_size
            ),
            validation_steps=-(-len(validation) // settings.batch_size),
        )
        training.save_atomically(model, model_path)
        return {"training_episodes": len(train), "steps_per_epoch": steps_per_epoch, **history[-1]}

    build(directory, profile.name, _memory_settings(profile), make, ("memory.training_steps",))
    return keras.models.load_model(model_path)


def _variant(use_memory: bool) -> str:
    """The folder suffix of the z-only ablation."""
    return "" if use_memory else "_z_only"


def controller_dir(profile: config.Profile | None = None, use_memory: bool = True) -> Path:
    """The folder of a profile's CMA-ES search for C: the resumable search, history, best."""
    return (profile or config.active()).data_dir / f"controller{_variant(use_memory)}"


def _controller_settings(profile: config.Profile, use_memory: bool) -> dict:
    """Everything a trained C depends on: V's and M's settings, C's own, and its inputs."""
    return {
        **_memory_settings(profile),
        "control": asdict(profile.control),
        "use_memory": use_memory,
    }


def _drivers(profile: config.Profile, use_memory: bool, workers: int):
    """Worker processes that drive the profile's agent (training V and M first if needed)."""
    from wmlib import agent

    ensure_vae(profile, workers)
    mdnrnn_path = None
    if use_memory:
        ensure_mdnrnn(profile, workers)
        mdnrnn_path = str(mdnrnn_dir(profile) / "mdnrnn.keras")
    agent_files = agent.AgentFiles(
        profile.task, profile.frame, str(vae_dir(profile) / "vae.keras"), mdnrnn_path
    )
    return agent.Rollouts(agent_files, profile.control, workers or os.cpu_count())


def controller_dimension(profile: config.Profile, use_memory: bool) -> int:
    """The number of C's parameters: on [z, h], or on z alone."""
    from wmlib import controller

    inputs = controller.input_size(
        profile.vision.latent_size, profile.memory.hidden_units, use_memory
    )
    return controller.parameter_count(inputs, get_task(profile.task).action_size)


def ensure_controller(
    profile: config.Profile | None = None, use_memory: bool = True, workers: int = 0
) -> dict:
    """The profile's CMA-ES search for C (run or resumed as needed): its `history` per
    generation and its `best` mean, the controller the search returns.

    `use_memory=False` is the paper's ablation: C sees z only, and M is never trained or run.
    """
    from wmlib import search

    profile = profile or config.active()
    settings = profile.control
    directory = controller_dir(profile, use_memory)
    dimension = controller_dimension(profile, use_memory)

    def make() -> dict:
        with _drivers(profile, use_memory, workers) as drivers:
            state = search.search(
                lambda candidates, generation: drivers.fitness(
                    candidates, search.training_seeds(settings, generation)
                ),
                lambda mean: drivers.score(mean, search.mean_evaluation_seeds(settings)).mean(),
                dimension,
                settings,
                directory,
            )
        return {
            "parameters": dimension,
            "generations": state["generation"],
            "best_mean_score": float(state["best"]["score"]),
            "chosen_generation": int(state["best"]["generation"]),
        }

    controller_settings = _controller_settings(profile, use_memory)
    build(directory, profile.name, controller_settings, make, ("control.generations",))
    return search.load_search(directory)


def evaluation_dir(profile: config.Profile | None = None, use_memory: bool = True) -> Path:
    """The folder of a profile's final evaluation of C: returns per track, a video, manifest."""
    return (profile or config.active()).data_dir / f"evaluation{_variant(use_memory)}"


def ensure_evaluation(
    profile: config.Profile | None = None, use_memory: bool = True, workers: int = 0
) -> dict:
    """The trained C's returns on the profile's fixed evaluation tracks, and a video of it.

    Returns `{"seeds", "returns", "generation"}`; the video of the first track is `agent.gif`
    in `evaluation_dir`. Tracks already scored are kept when an interrupted run resumes.
    """
    from wmlib import search

    profile = profile or config.active()
    settings = profile.control
    best = ensure_controller(profile, use_memory, workers)["best"]
    directory = evaluation_dir(profile, use_memory)
    results_path = directory / "returns.json"

    def make() -> dict:
        seeds = search.evaluation_seeds(settings)
        scored = json.loads(results_path.read_text()) if results_path.exists() else {}
        chunk = settings.environments_per_task * (workers or os.cpu_count())
        with (
            _drivers(profile, use_memory, workers) as drivers,
            tqdm(
                total=len(seeds), initial=len(scored), desc="evaluation", unit="episode"
            ) as progress,
        ):
            for start in range(0, len(seeds), chunk):
                missing = [seed for seed in seeds[start : start + chunk] if str(seed) not in scored]
                if missing:
                    returns = drivers.score(best["parameters"], missing)
                    scored.update(zip(map(str, missing), map(float, returns), strict=True))
                    files.write_json(results_path, scored)
                    progress.update(len(missing))
        record_video(profile, use_memory, best["parameters"], seeds[0], directory / "agent.gif")
        returns = _scored_returns(results_path, seeds)
        return {
            "episodes": len(seeds),
            "mean": round(float(returns.mean()), 1),
            "std": round(float(returns.std()), 1),
            "generation": int(best["generation"]),
        }

    evaluation_settings = _controller_settings(profile, use_memory)
    build(directory, profile.name, evaluation_settings, make, ("control.evaluation_episodes",))
    seeds = search.evaluation_seeds(settings)
    return {
        "seeds": seeds,
        "returns": _scored_returns(results_path, seeds),
        "generation": int(best["generation"]),
    }


def _scored_returns(path: Path, seeds: list[int]) -> np.ndarray:
    """The returns saved in an evaluation's `returns.json`, in the order of `seeds`."""
    scored = json.loads(path.read_text())
    return np.array([scored[str(seed)] for seed in seeds])


def record_video(
    profile: config.Profile, use_memory: bool, parameters, seed: int, path: Path
) -> float:
    """Drive one evaluation track in this process and save it as a GIF; return its score."""
    from wmlib import agent, media

    task = get_task(profile.task)
    mdnrnn = ensure_mdnrnn(profile) if use_memory else None
    driver = agent.Agent(ensure_vae(profile), mdnrnn, task, profile.frame)
    returns, recordings = agent.drive(
        driver, parameters[None], [seed], profile.control.evaluation_steps, record=True
    )
    frames, rewards = recordings[0]
    frames_per_second = task.frames_per_second / media.VIDEO_STRIDE
    media.write_gif(path, media.video_frames(frames, rewards), frames_per_second)
    return float(returns[0])
