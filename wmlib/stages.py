"""The pipeline's stages, listed once: the command line, `all` and the status tables read this.

Each stage names what it needs, the `ensure_*` call that builds or loads it, the folder its
artefact lives in, and the summary its manifest records; the list is in build order, so every
stage comes after the stages it needs.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wmlib import pipeline
from wmlib.config import Profile
from wmlib.env import task as get_task
from wmlib.errors import WorldModelsError


class StageError(WorldModelsError, ValueError):
    """A stage asked for a task it is not built for."""


@dataclass(frozen=True)
class Stage:
    """One artefact of the pipeline."""

    name: str
    """What the command line calls it (`python -m wmlib NAME`)."""
    label: str
    """How the status tables name it."""
    needs: tuple[str, ...]
    """The stages whose artefacts it is built from."""
    ensure: Callable
    """`ensure(profile, workers=N)`: load the artefact, building what is missing first."""
    directory: Callable[[Profile], Path]
    """The artefact's folder for a profile."""
    summary: tuple[str, ...]
    """The fields its manifest's summary records, shown by the command line and status."""
    built_for: str = "real"
    """The tasks it is built for (`BUILT_FOR`): every task, those whose C is searched in the
    real environment, or those whose C learns only inside M's dream (`Task.trained_in_dream`)."""

    def __post_init__(self):
        if self.built_for not in BUILT_FOR:
            raise ValueError(f"Stage {self.name!r}: built_for must be one of {BUILT_FOR}.")

    def runs_for(self, profile: Profile) -> bool:
        """Whether the profile's task has this stage."""
        in_dream = get_task(profile.task).trained_in_dream
        return self.built_for == "every" or (self.built_for == "dream") == in_dream


SEARCH_SUMMARY = ("parameters", "generations", "best_mean_score", "chosen_generation")
"""What a CMA-ES search's manifest records, wherever it searched."""
EVALUATION_SUMMARY = ("episodes", "mean", "std", "generation")
"""What an evaluation on the fixed tracks records, whichever controller it scored."""
BUILT_FOR = ("every", "real", "dream")
"""Which tasks a stage is built for: every task (the world model, C trained in its dream), a
task whose C is also searched in the real environment, or one whose C learns only in dreams."""

STAGES = (
    Stage(
        "collect",
        "episodes",
        (),
        pipeline.ensure_episodes,
        pipeline.episodes_dir,
        ("episodes", "steps", "bytes", "return_mean", "return_std"),
        "every",
    ),
    Stage(
        "vae",
        "V (vae)",
        ("collect",),
        pipeline.ensure_vae,
        pipeline.vae_dir,
        (
            "training_frames",
            "validation_episodes",
            "epoch",
            *("loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"),
        ),
        "every",
    ),
    Stage(
        "latents",
        "latents",
        ("collect", "vae"),
        pipeline.ensure_latents,
        pipeline.latents_dir,
        ("episodes",),
        "every",
    ),
    Stage(
        "mdnrnn",
        "M (mdnrnn)",
        ("latents",),
        pipeline.ensure_mdnrnn,
        pipeline.mdnrnn_dir,
        (
            "training_episodes",
            "steps_per_epoch",
            "epoch",
            *("loss", "nll", "done", "val_loss", "val_nll", "val_done"),
        ),
        "every",
    ),
    Stage(
        "controller",
        "C (controller)",
        ("vae", "mdnrnn"),
        pipeline.ensure_controller,
        pipeline.controller_dir,
        SEARCH_SUMMARY,
    ),
    Stage(
        "evaluation",
        "evaluation",
        ("controller",),
        pipeline.ensure_evaluation,
        pipeline.evaluation_dir,
        EVALUATION_SUMMARY,
    ),
    Stage(
        "controller_z_only",
        "C, z only",
        ("vae",),
        functools.partial(pipeline.ensure_controller, use_memory=False),
        functools.partial(pipeline.controller_dir, use_memory=False),
        SEARCH_SUMMARY,
    ),
    Stage(
        "evaluation_z_only",
        "evaluation, z only",
        ("controller_z_only",),
        functools.partial(pipeline.ensure_evaluation, use_memory=False),
        functools.partial(pipeline.evaluation_dir, use_memory=False),
        EVALUATION_SUMMARY,
    ),
    Stage(
        "search_shapes",
        "search shapes",
        ("evaluation",),
        pipeline.ensure_search_shapes,
        pipeline.shapes_dir,
        ("shapes", "means"),
    ),
    Stage(
        "reward_head",
        "M's reward head",
        ("mdnrnn",),
        pipeline.ensure_reward_head,
        pipeline.reward_head_dir,
        ("examples", "mse", "val_mse", "val_variance"),
    ),
    Stage(
        "controller_dream",
        "C in M's dream",
        ("reward_head",),
        functools.partial(pipeline.ensure_controller, origin="dream"),
        functools.partial(pipeline.controller_dir, origin="dream"),
        SEARCH_SUMMARY,
        "every",
    ),
    Stage(
        "evaluation_dream",
        "evaluation, C from the dream",
        ("controller_dream",),
        functools.partial(pipeline.ensure_evaluation, origin="dream"),
        functools.partial(pipeline.evaluation_dir, origin="dream"),
        EVALUATION_SUMMARY,
        "every",
    ),
    Stage(
        "controller_warm",
        "C, real search from the dream's",
        ("controller_dream",),
        functools.partial(pipeline.ensure_controller, origin="warm"),
        functools.partial(pipeline.controller_dir, origin="warm"),
        SEARCH_SUMMARY,
    ),
    Stage(
        "evaluation_warm",
        "evaluation, warm-started C",
        ("controller_warm",),
        functools.partial(pipeline.ensure_evaluation, origin="warm"),
        functools.partial(pipeline.evaluation_dir, origin="warm"),
        EVALUATION_SUMMARY,
    ),
    Stage(
        "temperatures",
        "dreams at several temperatures",
        ("evaluation_dream",),
        pipeline.ensure_temperatures,
        pipeline.temperatures_dir,
        ("temperatures", "dream_means", "real_means"),
        "dream",
    ),
    Stage(
        "iterate",
        "iterative training",
        ("evaluation",),
        pipeline.ensure_rounds,
        pipeline.rounds_dir,
        ("rounds", "means"),
        "every",
    ),
)
BY_NAME = {stage.name: stage for stage in STAGES}


def for_task(profile: Profile) -> tuple[Stage, ...]:
    """The stages built for the profile's task, in build order (what `all` runs)."""
    return tuple(stage for stage in STAGES if stage.runs_for(profile))


ROUND_STAGES = tuple(stage.name for stage in STAGES if stage.ensure in pipeline.ROUND_STAGES)
"""The stages every later round of iterative training builds again, in its own folder."""
