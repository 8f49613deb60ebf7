"""The command line: `python -m wmlib STAGE [--task T] [--profile P] [--workers N] [--A.B V]`.

Each stage builds its artefact in `data/<profile>/<task>/` through `wmlib.pipeline`, skipping
what is already there and resuming what an interrupted run left; a stage builds the stages it
needs first. `all` builds every stage in order; `status` prints the methods page's tables. Any
setting of the profile can be changed for one run (`--control.generations 40`); a finished stage
whose own budget only grew continues from where it stopped. Ctrl-C stops a run with one line;
running the same command again resumes it. `release` packs the task's finished artefacts for
publication (`make release`, `wmlib.release`).
"""

import argparse
import os
import sys
from pathlib import Path

from wmlib import config, options, release, stages, status
from wmlib.artefacts import read_manifest
from wmlib.env import TASKS
from wmlib.errors import WorldModelsError
from wmlib.workers import SCHEDULER_VARIABLE

INTERRUPTED = 130
"""The exit status of a run stopped by Ctrl-C: 128 + SIGINT, as shells report it."""
RELEASE_FOLDER = Path(__file__).resolve().parent.parent / "_build" / "release"
"""Where `release` writes the archives, for the maintainer to upload."""


def run_stage(stage: stages.Stage, profile: config.Profile, workers: int) -> None:
    """Build one stage's artefact and print its summary."""
    stage.ensure(profile, workers=workers)
    manifest = read_manifest(stage.directory(profile))
    print(f"{stage.name}: {status.summary_text(stage, manifest)}")


def release_artefacts(profile: config.Profile) -> None:
    """Pack the profile's artefacts of its task into `RELEASE_FOLDER` and record the archive's
    hash in the registry, once every stage of the task is built."""
    missing = [
        stage.name
        for stage in stages.for_task(profile)
        if not (read_manifest(stage.directory(profile)) or {}).get("complete")
    ]
    if missing:
        raise release.ReleaseError(
            f"Not built yet at {profile.name!r} for {profile.task}: {', '.join(missing)}. Run "
            f"`python -m wmlib all --profile {profile.name} --task {profile.task}` first."
        )
    archive = release.publish(profile.name, profile.task, RELEASE_FOLDER)
    print(
        f"{archive} ({archive.stat().st_size / 1e6:.0f} MB), its hash in {release.REGISTRY}: "
        f"upload it to {release.RELEASE_URL}"
    )


def worker_processes(text: str) -> int:
    """The value of --workers: a number of processes, at least 1, or 0 for one per core."""
    if not text.isdecimal():  # refuses "-1" as it refuses "two"
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of worker processes: give 1 or more, or 0 for one per core"
        )
    return int(text)


def parser_for(profile: config.Profile) -> argparse.ArgumentParser:
    """The full argument parser, with the chosen profile's settings as the defaults."""
    parser = argparse.ArgumentParser(
        prog="python -m wmlib", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    listed = "\n".join(
        f"  {stage.name:18} needs {', '.join(stage.needs) or 'nothing'}" for stage in stages.STAGES
    )
    parser.add_argument(
        "stage",
        choices=[*stages.BY_NAME, "all", "status", "release"],
        metavar="STAGE",
        help=f"the artefact to build, `all` of them in order, `status`, or `release` (pack the "
        f"task's artefacts for publication):\n{listed}",
    )
    parser.add_argument(
        "--profile",
        default=profile.name,
        help=f"one of {', '.join(config.PROFILE_NAMES)} (default: ${config.PROFILE_VARIABLE} "
        f"or {config.DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--task",
        default=profile.task,
        help=f"one of {', '.join(TASKS)} (default: ${config.TASK_VARIABLE} or "
        f"{config.DEFAULT_TASK})",
    )
    parser.add_argument(
        "--workers",
        type=worker_processes,
        metavar="N",
        default=0,
        help="worker processes (default: one per core); never more than a step has tasks",
    )
    parser.add_argument(
        "--scheduler",
        default=os.environ.get(SCHEDULER_VARIABLE),
        help=f"run rollouts on a Dask scheduler, tcp://HOST:PORT (default: ${SCHEDULER_VARIABLE})",
    )
    options.add_setting_options(parser, profile)
    return parser


def chosen_profile(argv: list[str] | None) -> config.Profile:
    """The profile named by --profile (or WM_PROFILE) for the task named by --task (or WM_TASK),
    read before the full parser is built, whose defaults are that profile's settings."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--profile", default=os.environ.get(config.PROFILE_VARIABLE))
    early.add_argument("--task", default=os.environ.get(config.TASK_VARIABLE))
    chosen = early.parse_known_args(argv)[0]
    try:
        return config.get(
            chosen.profile or config.DEFAULT_PROFILE, chosen.task or config.DEFAULT_TASK
        )
    except WorldModelsError as error:
        argparse.ArgumentParser(prog="python -m wmlib").error(str(error))


def main(argv: list[str] | None = None) -> int:
    """Run the command; Ctrl-C ends it with one line instead of a traceback, the workers having
    been stopped by their pools on the way out."""
    try:
        return run(argv)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return INTERRUPTED


def run(argv: list[str] | None) -> int:
    """Parse the arguments, run the stage(s) and print what each built."""
    profile = chosen_profile(argv)
    arguments = parser_for(profile).parse_args(argv)
    values = {name: getattr(arguments, name) for name in options.settings(profile)}
    profile = options.with_settings(profile, values)
    if arguments.scheduler:
        os.environ[SCHEDULER_VARIABLE] = arguments.scheduler
    if arguments.stage == "status":
        print(status.status_page(profile, Path(__file__).resolve().parent.parent / "book"))
        return 0
    print(f"profile: {profile.name} ({profile.description}); data in {profile.data_dir}")
    try:
        if arguments.stage == "release":
            release_artefacts(profile)
            return 0
        selected = (
            stages.for_task(profile)
            if arguments.stage == "all"
            else [stages.BY_NAME[arguments.stage]]
        )
        for stage in selected:
            if not stage.runs_for(profile):
                raise stages.StageError(
                    f"Stage {stage.name!r} is not built for task {profile.task!r}; its stages "
                    f"are {', '.join(stage.name for stage in stages.for_task(profile))}."
                )
            run_stage(stage, profile, arguments.workers)
    except WorldModelsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
