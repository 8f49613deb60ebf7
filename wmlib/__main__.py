"""The command line: `python -m wmlib <stage> [--profile NAME] [--workers N] [--z-only]`.

Each stage builds its artefact in `data/<profile>/` through `wmlib.pipeline`, skipping what is
already there and resuming what an interrupted run left; a stage builds the stages it needs
first. `all` builds everything the book shows: the whole pipeline, then the z-only ablation.
`status` prints the methods page's tables (`wmlib.status`) from the manifests and chapters.
"""

import argparse
import os
import sys
from pathlib import Path

from wmlib import config, pipeline, status

STAGES = {
    "collect": (pipeline.ensure_episodes, pipeline.episodes_dir),
    "vae": (pipeline.ensure_vae, pipeline.vae_dir),
    "latents": (pipeline.ensure_latents, pipeline.latents_dir),
    "mdnrnn": (pipeline.ensure_mdnrnn, pipeline.mdnrnn_dir),
    "controller": (pipeline.ensure_controller, pipeline.controller_dir),
    "evaluation": (pipeline.ensure_evaluation, pipeline.evaluation_dir),
}
USES_MEMORY_CHOICE = {"controller", "evaluation"}
ALL = [(stage, True) for stage in STAGES] + [("controller", False), ("evaluation", False)]


def run_stage(stage: str, profile: config.Profile, workers: int, use_memory: bool) -> None:
    """Build one stage's artefact and print what it holds."""
    ensure, directory = STAGES[stage]
    if stage in USES_MEMORY_CHOICE:
        ensure(profile, use_memory=use_memory, workers=workers)
        folder = directory(profile, use_memory)
    else:
        ensure(profile, workers=workers)
        folder = directory(profile)
    print(f"{folder.name}: {pipeline.read_manifest(folder)['summary']}")


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the stage(s) and print what each built."""
    parser = argparse.ArgumentParser(prog="python -m wmlib", description=__doc__)
    parser.add_argument(
        "stage", choices=[*STAGES, "all", "status"], help="the artefact to build, or status"
    )
    parser.add_argument(
        "--profile",
        default=os.environ.get(config.PROFILE_VARIABLE, config.DEFAULT_PROFILE),
        help=f"one of {', '.join(config.PROFILES)} (default: ${config.PROFILE_VARIABLE} "
        f"or {config.DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--z-only",
        action="store_true",
        help="controller and evaluation: the paper's ablation, C sees z only (no M)",
    )
    arguments = parser.parse_args(argv)
    try:
        profile = config.get(arguments.profile)
    except config.ProfileError as error:
        parser.error(str(error))
    if arguments.stage == "status":
        print(status.status_page(profile, Path(__file__).resolve().parent.parent / "book"))
        return 0
    print(f"profile: {profile.name} ({profile.description}); data in {profile.data_dir}")
    stages = ALL if arguments.stage == "all" else [(arguments.stage, not arguments.z_only)]
    try:
        for stage, use_memory in stages:
            run_stage(stage, profile, arguments.workers, use_memory)
    except (pipeline.ArtefactMismatchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
