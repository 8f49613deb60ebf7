"""Iterative training (chapter 9): the rounds after the first, each scored on the same tracks.

Round k's artefacts live in `data/<profile>/<task>/round_<k>/` (`config.at_round`), built by the
same `ensure_*` calls as round 0's: its episodes are driven by round k − 1's agent, its V and M
are round k − 1's fine-tuned on every round's episodes, and its CMA-ES starts from round k − 1's
controller. This stage builds the rounds in order and records every round's score.
"""

from dataclasses import asdict
from pathlib import Path

from wmlib import config
from wmlib.artefacts import build
from wmlib.pipeline.controller import (
    controller_settings,
    ensure_controller,
    ensure_evaluation,
    evaluation_dir,
)
from wmlib.pipeline.episodes import ensure_episodes
from wmlib.pipeline.model import ensure_latents, ensure_mdnrnn, ensure_vae

ROUND_STAGES = (
    ensure_episodes,
    ensure_vae,
    ensure_latents,
    ensure_mdnrnn,
    ensure_controller,
    ensure_evaluation,
)
"""What every round builds, in order, its evaluation last."""


def rounds_dir(profile: config.Profile | None = None) -> Path:
    """The folder of the record of a profile's iterative training (beside round 0's stages)."""
    return config.at_round(profile or config.active(), 0).data_dir / "rounds"


def ensure_rounds(profile: config.Profile | None = None, workers: int = 0) -> list[dict]:
    """Every round's evaluation on the fixed tracks, round 0 first (`ensure_evaluation`),
    building the rounds that are missing in order; an interrupted round resumes where it was."""
    profile = config.at_round(profile or config.active(), 0)
    numbers = range(profile.iteration.rounds + 1)

    def make() -> dict:
        means = []
        for number in numbers:
            for ensure in ROUND_STAGES:  # in order, so that no stage's time includes another's
                built = ensure(config.at_round(profile, number), workers=workers)
            means.append(float(built["returns"].mean()))
        return {"rounds": profile.iteration.rounds, "means": [round(mean, 1) for mean in means]}

    settings = {**controller_settings(profile, True), "iteration": asdict(profile.iteration)}
    inputs = {"evaluation": evaluation_dir(profile)}
    build(rounds_dir(profile), profile.name, settings, make, ("iteration.rounds",), inputs)
    return [
        ensure_evaluation(config.at_round(profile, number), workers=workers) for number in numbers
    ]
