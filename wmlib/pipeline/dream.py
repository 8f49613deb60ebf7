"""The dream's artefacts (chapter 9): M's reward head, and the search CMA-ES runs in M's dreams.

`ensure_controller(..., origin="dream")` searches with `dream_search`, and `origin="warm"` starts
the real search from the controller found in the dream (`pipeline.controller`).
"""

from dataclasses import replace
from pathlib import Path

import numpy as np

from wmlib import config
from wmlib.artefacts import build
from wmlib.env import task as get_task
from wmlib.pipeline.model import ensure_mdnrnn, mdnrnn_dir, memory_sequences, memory_settings


def reward_head_dir(profile: config.Profile | None = None) -> Path:
    """The folder of a profile's reward head: the fitted model and its manifest."""
    return (profile or config.active()).data_dir / "reward_head"


def _reward_head_settings(profile: config.Profile) -> dict:
    """Everything the reward head depends on: M's settings and its own."""
    head = profile.dream
    return {
        **memory_settings(profile),
        "reward_head": {"hidden_units": head.reward_hidden_units, "epochs": head.reward_epochs},
    }


def ensure_reward_head(profile: config.Profile | None = None, workers: int = 0):
    """The profile's reward head, fitted on M's training episodes (M unchanged) if missing.

    Its manifest records the mean squared error on M's held-out episodes beside their rewards'
    variance, the error of always predicting the mean reward.
    """
    from wmlib import dream, training
    from wmlib.runtime import keras

    profile = profile or config.active()
    settings = profile.dream
    directory = reward_head_dir(profile)
    model_path = directory / "reward_head.keras"

    def make() -> dict:
        keras.utils.set_random_seed(profile.memory.seed)
        mdnrnn = ensure_mdnrnn(profile, workers)
        train, validation = memory_sequences(profile, workers)
        features, targets = dream.reward_examples(mdnrnn, train, profile.memory.seed)
        held_out = dream.reward_examples(mdnrnn, validation, profile.memory.seed + 1)
        head = dream.build_reward_head(features.shape[1], settings)
        history = head.fit(
            features,
            targets,
            batch_size=256,
            epochs=settings.reward_epochs,
            validation_data=held_out,
            verbose=0,
        ).history
        training.save_atomically(head, model_path)
        return {
            "examples": len(features),
            "mse": round(history["loss"][-1], 4),
            "val_mse": round(history["val_loss"][-1], 4),
            "val_variance": round(float(held_out[1].var()), 4),
        }

    inputs = {"mdnrnn": mdnrnn_dir(profile)}
    build(directory, profile.name, _reward_head_settings(profile), make, inputs=inputs)
    return training.load_model(model_path)


def dream_control(profile: config.Profile) -> config.ControlConfig:
    """The search's settings in the dream: C's own, with the dream's population, dreams per
    candidate, generations, length and evaluation of the mean."""
    dream = profile.dream
    return replace(
        profile.control,
        population_size=dream.population_size,
        episodes_per_candidate=dream.episodes_per_candidate,
        generations=dream.generations,
        training_steps=dream.steps,
        evaluation_steps=dream.steps,
        mean_evaluation_episodes=dream.mean_evaluation_episodes,
    )


def dream_search(profile: config.Profile, use_memory: bool = True, workers: int = 0):
    """What CMA-ES needs to search in M's dreams (`dream.DreamSearch`), dreams starting from the
    first frames of M's training episodes; the reward head is fitted first unless the task pays
    for survival alone."""
    from wmlib import dream

    task = get_task(profile.task)
    mdnrnn = ensure_mdnrnn(profile, workers)
    head = None if task.survival_reward is not None else ensure_reward_head(profile, workers)
    train, _ = memory_sequences(profile, workers)
    first_frames = tuple(
        np.stack([sequence[name][0] for sequence in train]) for name in ("mean", "log_variance")
    )
    return dream.DreamSearch(mdnrnn, head, first_frames, task, profile.dream, use_memory)
