"""The command line: `python -m wmlib <stage> [--profile NAME] [--workers N]`.

Each stage builds its artefact in `data/<profile>/` through `wmlib.pipeline`, skipping what is
already there and resuming what an interrupted run left.
"""

import argparse
import os
import sys

from wmlib import config, pipeline

STAGES = {
    "collect": (pipeline.ensure_episodes, pipeline.episodes_dir),
    "vae": (pipeline.ensure_vae, pipeline.vae_dir),
    "latents": (pipeline.ensure_latents, pipeline.latents_dir),
    "mdnrnn": (pipeline.ensure_mdnrnn, pipeline.mdnrnn_dir),
}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the stage and print where its artefact is."""
    parser = argparse.ArgumentParser(prog="python -m wmlib", description=__doc__)
    parser.add_argument("stage", choices=STAGES, help="the artefact to build")
    parser.add_argument(
        "--profile",
        default=os.environ.get(config.PROFILE_VARIABLE, config.DEFAULT_PROFILE),
        help=f"one of {', '.join(config.PROFILES)} (default: ${config.PROFILE_VARIABLE} "
        f"or {config.DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="worker processes (default: one per core)"
    )
    arguments = parser.parse_args(argv)
    try:
        profile = config.get(arguments.profile)
    except config.ProfileError as error:
        parser.error(str(error))
    print(f"profile: {profile.name} ({profile.description}); data in {profile.data_dir}")
    try:
        ensure, directory = STAGES[arguments.stage]
        ensure(profile, workers=arguments.workers)
    except (pipeline.ArtefactMismatchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"done: {pipeline.read_manifest(directory(profile))['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
