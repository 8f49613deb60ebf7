"""The world model's artefacts: V, V's codes of the recorded episodes, and M.

In a later round of iterative training (`Profile.round` > 0) V and M are the previous round's
fine-tuned on the recorded episodes, and V's codes cover every round's episodes.
"""

from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from wmlib import config, files
from wmlib.artefacts import ArtefactMismatchError, build, is_complete
from wmlib.env import task as get_task
from wmlib.pipeline.episodes import (
    data_settings,
    episodes_dir,
    every_round_episodes,
    reopen_if_damaged,
    round_inputs,
    split_rounds,
)


def _vision_settings(profile: config.Profile) -> dict:
    """Everything a trained V depends on: its own settings and those of its data."""
    return {**data_settings(profile), "vision": asdict(profile.vision)}


def vae_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's trained V: checkpoint, history, final model, manifest."""
    return (profile or config.active()).data_dir / "vae"


def ensure_vae(profile: config.Profile | None = None, workers: int = 0):
    """The profile's trained ConvVAE, training it (and collecting its data) if needed; in a
    later round, the previous round's V fine-tuned on every round's episodes (or on the round's
    own, `iteration.vision_new_episodes_only`)."""
    from wmlib import frame_store, training, vision  # TensorFlow only in the stages using it
    from wmlib.runtime import keras

    profile = profile or config.active()
    settings = profile.vision
    directory = vae_dir(profile)
    if not is_complete(directory):
        every_round_episodes(profile, workers)  # recorded first, so that V's time is its own
    model_path = directory / "vae.keras"
    store = directory / "frames"
    epochs = profile.iteration.vision_epochs if profile.round else settings.epochs
    inputs = round_inputs("episodes", episodes_dir, profile)
    if profile.round:
        inputs["vae"] = vae_dir(config.at_round(profile, profile.round - 1))

    def new_vae():
        vae = vision.build_vae(settings)
        if profile.round:
            vae.set_weights(ensure_vae(config.at_round(profile, profile.round - 1)).get_weights())
        return vae

    def make() -> dict:
        keras.utils.set_random_seed(settings.seed)
        rounds = every_round_episodes(profile, workers)
        train, validation = split_rounds(rounds, settings.validation_fraction)
        if profile.round and profile.iteration.vision_new_episodes_only:
            train, _ = split_rounds(rounds[-1:], settings.validation_fraction)
        if profile.round and profile.iteration.vision_frames is not None:
            train = sample_episodes(
                train, profile.iteration.vision_frames, [settings.seed, profile.round]
            )
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
            new_vae,
            lambda first_epoch: frame_store.training_frames(train, settings, first_epoch),
            steps_per_epoch=frames // settings.batch_size,
            epochs=epochs,
            directory=directory,
            validation_data=frame_store.frame_dataset(validation, settings, shuffle=False),
            validation_steps=-(-validation_frames // settings.batch_size),
        )
        training.save_for_use(vae, model_path)
        frame_store.remove_frame_store(store)
        return {"training_frames": frames, "validation_episodes": len(validation), **history[-1]}

    budget = ("iteration.vision_epochs",) if profile.round else ("vision.epochs",)
    build(directory, profile.name, _vision_settings(profile), make, budget, inputs)
    return training.load_model(model_path)


def sample_episodes(paths: list[Path], frames: int, seed) -> list[Path]:
    """A random subset of `paths` (in their order) holding at least `frames` frames, or all of
    them if they hold fewer: whole episodes, so that the frame store stays one file per episode.
    """
    steps = [files.check_episode(path) for path in paths]
    order = np.random.default_rng(seed).permutation(len(paths))
    taken = np.cumsum(np.asarray(steps)[order]) < frames
    chosen = order[: taken.sum() + 1]
    return [paths[index] for index in sorted(chosen)]


def latents_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's encoded episodes."""
    return (profile or config.active()).data_dir / "latents"


def mirrored_path(path: Path) -> Path:
    """Where the left–right mirror of the encoded episode at `path` lives (memory.augmentation)."""
    return path.with_name(f"{path.stem}_mirrored{path.suffix}")


def mirror_action(profile: config.Profile):
    """The task's `mirror_action` if M learns mirrored episodes, else None; a clear error for a
    task whose world is not left–right symmetric."""
    if profile.memory.augmentation != "mirror":
        return None
    mirror = get_task(profile.task).mirror_action
    if mirror is None:
        raise config.ProfileError(
            f"memory.augmentation is 'mirror', but task {profile.task!r} is not left–right "
            f"symmetric (its Task has no mirror_action); set memory.augmentation to None."
        )
    return mirror


def ensure_latents(profile: config.Profile | None = None, workers: int = 0) -> list[Path]:
    """Paths of every episode (of every round so far) encoded by the round's V (μ, log σ² and
    actions), encoding what is missing; with `memory.augmentation` "mirror", each episode's
    mirror too, its frames flipped left to right (`mirrored_path`)."""
    from wmlib import vision

    profile = profile or config.active()
    episode_paths = [path for paths in every_round_episodes(profile, workers) for path in paths]
    directory = latents_dir(profile)
    paths = [files.episode_path(directory, index) for index in range(len(episode_paths))]
    mirror = mirror_action(profile)
    written = paths + ([mirrored_path(path) for path in paths] if mirror else [])
    settings = _vision_settings(profile)
    if mirror:  # only then: the settings of latents encoded without it stay as they were written
        settings["memory"] = {"augmentation": profile.memory.augmentation}
    reopen_if_damaged(directory, settings, lambda: not all(path.exists() for path in written))
    vae = None if is_complete(directory) else ensure_vae(profile, workers)

    def encode(target: Path, frames: np.ndarray, actions: np.ndarray) -> None:
        mean, log_variance = vision.encode(vae, frames)
        files.save_latents(target, mean, log_variance, actions)

    def make() -> dict:
        for source, target in tqdm(list(zip(episode_paths, paths, strict=True)), desc="latents"):
            episode = None
            if not target.exists():
                episode = files.load_episode(source)
                encode(target, episode.observations, episode.actions)
            if mirror and not mirrored_path(target).exists():
                episode = episode or files.load_episode(source)
                flipped = episode.observations[:, :, ::-1]
                encode(mirrored_path(target), flipped, mirror(episode.actions))
        return {"episodes": len(paths)}

    inputs = round_inputs("episodes", episodes_dir, profile) | {"vae": vae_dir(profile)}
    build(directory, profile.name, settings, make, inputs=inputs)
    return paths


def memory_sequences(profile: config.Profile | None = None, workers: int = 0):
    """(training, held-out) encoded episodes for M, split as V's episodes were; with
    `memory.augmentation` "mirror", the training episodes' mirrors join the training ones.

    The held-out episodes are new to both V and M; each episode is a dict of arrays
    (`wmlib.memory.load_sequences`).
    """
    from wmlib import memory

    profile = profile or config.active()
    episode_rounds = every_round_episodes(profile, workers)
    latent_paths = iter(ensure_latents(profile, workers))
    latent_rounds = [[next(latent_paths) for _ in paths] for paths in episode_rounds]
    fraction = profile.vision.validation_fraction
    (latents, held_out_latents), (episodes, held_out_episodes) = (
        split_rounds(latent_rounds, fraction),
        split_rounds(episode_rounds, fraction),
    )
    if mirror_action(profile):
        latents, episodes = latents + [mirrored_path(path) for path in latents], episodes * 2
    return (
        memory.load_sequences(latents, episodes),
        memory.load_sequences(held_out_latents, held_out_episodes),
    )


def mdnrnn_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's trained M: checkpoint, history, final model, manifest."""
    return (profile or config.active()).data_dir / "mdnrnn"


def memory_settings(profile: config.Profile) -> dict:
    """Everything a trained M depends on: V's settings and its data's, and M's own."""
    return {**_vision_settings(profile), "memory": asdict(profile.memory)}


def ensure_mdnrnn(profile: config.Profile | None = None, workers: int = 0):
    """The profile's trained MDN-RNN, training it (and everything before it) if needed; in a
    later round, the previous round's M fine-tuned on every round's episodes.

    M trains and validates on the same episodes V did (`memory_sequences`).
    """
    from wmlib import memory, training
    from wmlib.runtime import keras

    profile = profile or config.active()
    settings = profile.memory
    directory = mdnrnn_dir(profile)
    model_path = directory / "mdnrnn.keras"
    training_steps = (
        profile.iteration.memory_training_steps if profile.round else settings.training_steps
    )
    inputs = {"latents": latents_dir(profile)}
    if profile.round:
        inputs["mdnrnn"] = mdnrnn_dir(config.at_round(profile, profile.round - 1))

    def new_mdnrnn():
        model = memory.build_mdnrnn(
            settings, profile.vision.latent_size, get_task(profile.task).action_size
        )
        if profile.round:
            previous = ensure_mdnrnn(config.at_round(profile, profile.round - 1))
            model.set_weights(previous.get_weights())
        return model

    def make() -> dict:
        keras.utils.set_random_seed(settings.seed)
        train, validation = memory_sequences(profile, workers)
        frames = sum(len(sequence["mean"]) for sequence in train)
        steps_per_epoch = max(1, frames // (settings.batch_size * (settings.sequence_length + 1)))
        epochs = -(-training_steps // steps_per_epoch)
        model, history = training.fit_resumable(
            new_mdnrnn,
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
        training.save_for_use(model, model_path)
        return {"training_episodes": len(train), "steps_per_epoch": steps_per_epoch, **history[-1]}

    budget = ("iteration.memory_training_steps",) if profile.round else ("memory.training_steps",)
    build(directory, profile.name, memory_settings(profile), make, budget, inputs)
    return training.load_model(model_path)
