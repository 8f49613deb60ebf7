"""The world model's artefacts: the recorded episodes, V, V's codes of them, and M."""

from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from wmlib import config, files, rollouts
from wmlib.artefacts import ArtefactMismatchError, build, read_manifest, write_manifest
from wmlib.env import task as get_task


def episodes_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's recorded episodes."""
    return (profile or config.active()).data_dir / "episodes"


def ensure_episodes(profile: config.Profile | None = None, workers: int = 0) -> list[Path]:
    """The paths of the profile's recorded episodes, collecting whichever are missing or invalid.

    Every episode file is checked from its headers on every call, so one deleted or damaged
    after the collection finished is recorded again.
    """
    profile = profile or config.active()
    directory = episodes_dir(profile)
    paths = [files.episode_path(directory, index) for index in range(profile.rollouts.episodes)]

    def make() -> dict:
        rollouts.collect(
            directory, profile.task, profile.rollouts, profile.frame, workers, profile.pool
        )
        return {
            "episodes": len(paths),
            "steps": files.count_steps(paths),
            "bytes": sum(path.stat().st_size for path in paths),
        }

    settings = _data_settings(profile)
    _reopen_if_damaged(directory, settings, paths)
    build(directory, profile.name, settings, make, ("rollouts.episodes",))
    return paths


def _reopen_if_damaged(directory: Path, settings: dict, paths: list[Path]) -> None:
    """Mark a finished collection of these settings unfinished when some of its episodes are
    missing or invalid, so that `build` resumes it and `collect` records them again (a
    collection of other settings is for `build` to continue or refuse)."""
    manifest = read_manifest(directory)
    finished = manifest is not None and manifest["complete"] and manifest["settings"] == settings
    if finished and rollouts.unrecorded(paths):
        write_manifest(directory, {**manifest, "complete": False})


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
    from wmlib import frame_store, training, vision  # TensorFlow only in the stages using it
    from wmlib.runtime import keras

    profile = profile or config.active()
    settings = profile.vision
    paths = ensure_episodes(profile, workers)
    directory = vae_dir(profile)
    model_path = directory / "vae.keras"
    store = directory / "frames"

    def make() -> dict:
        keras.utils.set_random_seed(settings.seed)
        train, validation = vision.split_episodes(paths, settings.validation_fraction)
        # count_steps checks every episode's headers: a bad one is named here, not in training.
        frames = files.count_steps(train)
        validation_frames = files.count_steps(validation)
        if frames < settings.batch_size:
            raise ArtefactMismatchError(
                f"V has {frames} training frames, fewer than one batch (vision.batch_size = "
                f"{settings.batch_size}). Record more (rollouts.episodes, rollouts.max_steps) "
                f"or lower vision.batch_size."
            )
        train = frame_store.write_frame_store(train, store)
        validation = frame_store.write_frame_store(validation, store)
        vae, history = training.fit_resumable(
            lambda: vision.build_vae(settings),
            lambda first_epoch: frame_store.training_frames(train, settings, first_epoch),
            steps_per_epoch=frames // settings.batch_size,
            epochs=settings.epochs,
            directory=directory,
            validation_data=frame_store.frame_dataset(validation, settings, shuffle=False),
            validation_steps=-(-validation_frames // settings.batch_size),
        )
        training.save_atomically(vae, model_path)
        frame_store.remove_frame_store(store)
        return {"training_frames": frames, "validation_episodes": len(validation), **history[-1]}

    inputs = {"episodes": episodes_dir(profile)}
    build(directory, profile.name, _vision_settings(profile), make, ("vision.epochs",), inputs)
    return training.load_model(model_path)


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

    inputs = {"episodes": episodes_dir(profile), "vae": vae_dir(profile)}
    build(directory, profile.name, _vision_settings(profile), make, inputs=inputs)
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


def memory_settings(profile: config.Profile) -> dict:
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

    inputs = {"latents": latents_dir(profile)}
    budget = ("memory.training_steps",)
    build(directory, profile.name, memory_settings(profile), make, budget, inputs)
    return training.load_model(model_path)
