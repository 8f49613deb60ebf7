"""The artefact cache's bookkeeping: manifests, and when an artefact on disk may be reused.

Every artefact folder holds a `manifest.json` with the profile, the settings it was built with,
the library version, the machine, the time the build took (killed runs' included), a build id,
and the build ids of the artefacts it was built from, written atomically like everything else.
An artefact is reused when its settings are the active profile's and its inputs are the ones it
was built from; resumed when its build was interrupted, or when only its own budget grew (more
generations, more episodes); and refused, with the fix, when anything else differs. One run at a
time builds an artefact: a second waits for the first (a lock on the folder). In Colab, the
artefacts of a published profile (`small`) come from its release (`wmlib.release`): the first
artefact of a task looked at here downloads all of that task's, then reused as they are.
"""

import contextlib
import fcntl
import json
import os
import platform
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from wmlib import __version__
from wmlib.data_folder import writable_data_root
from wmlib.errors import WorldModelsError
from wmlib.files import remove_partial_files, write_json
from wmlib.release import fetch_in_colab

MANIFEST = "manifest.json"
MANIFEST_FIELDS = {
    "profile": str,
    "settings": dict,
    "wmlib_version": str,
    "seconds": (int, float),
    "complete": bool,
}
"""What every manifest holds, with its type; a file without them is not a manifest."""
LOCK = ".lock"
TIME_KEEPING_SECONDS = 30.0
"""How often a build in progress writes the seconds it has taken into its manifest."""


class ArtefactMismatchError(WorldModelsError, RuntimeError):
    """An artefact on disk that cannot serve the active profile as it is."""


def read_manifest(directory: Path) -> dict | None:
    """The manifest of an artefact folder, or None when it has none yet.

    A manifest that cannot be read, or lacks what a manifest holds, is set aside with a warning
    and counts as none: the build then resumes from the files present (episodes already
    recorded, a training checkpoint) instead of throwing them away. In Colab, a published
    artefact is downloaded first (`fetch_in_colab`).
    """
    fetch_in_colab(directory)
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
        problem = manifest_problem(manifest)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        problem = f"not valid JSON ({error})"
    if problem is None:
        return manifest
    print(
        f"warning: {path} is not a valid manifest ({problem}); it is rebuilt from the files "
        f"present in {directory}.",
        file=sys.stderr,
    )
    return None


def is_complete(directory: Path) -> bool:
    """Whether the artefact in `directory` is finished (whatever its settings)."""
    manifest = read_manifest(directory)
    return manifest is not None and manifest["complete"]


def manifest_problem(manifest) -> str | None:
    """What makes a parsed manifest unusable, or None when it is whole."""
    if not isinstance(manifest, dict):
        return f"a {type(manifest).__name__}, not an object"
    version = manifest.get("wmlib_version")
    if isinstance(version, str) and major(version) != major(__version__):
        return None  # another version's manifest: `check_reusable` refuses it, naming both
    missing = [name for name in MANIFEST_FIELDS if name not in manifest]
    if missing:
        return f"missing {', '.join(missing)}"
    wrong = [name for name, kind in MANIFEST_FIELDS.items() if not isinstance(manifest[name], kind)]
    return f"{', '.join(wrong)} of the wrong type" if wrong else None


def write_manifest(directory: Path, manifest: dict) -> None:
    """Write a manifest atomically (a temporary file renamed over the old one)."""
    write_json(Path(directory) / MANIFEST, manifest)


def flatten(settings: dict, prefix: str = "") -> dict:
    """Nested settings as one level of dotted names: {"control.generations": 25, ...}."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_settings(old: dict, new: dict) -> dict[str, tuple]:
    """The dotted names whose values differ, with (old, new) values."""
    old, new = flatten(old), flatten(new)
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(old | new)
        if old.get(key) != new.get(key)
    }


def major(version) -> str | None:
    """The major part of a version string ("0" of "0.2.0"), or None for no version."""
    return version.split(".")[0] if isinstance(version, str) else None


def check_reusable(directory: Path, manifest: dict, settings: dict, budget: tuple[str, ...]):
    """Refuse an artefact of another library major version or other settings, except that an
    artefact whose own `budget` settings only grew is to be continued. Returns whether it is."""
    built_by = manifest.get("wmlib_version", "unknown")
    if major(built_by) != major(__version__):
        raise ArtefactMismatchError(
            f"{directory} was built by wmlib {built_by}; this is wmlib {__version__}, whose "
            f"files may differ. Delete {directory} to rebuild it, or install wmlib {built_by}."
        )
    changed = changed_settings(manifest["settings"], settings)
    if not changed:
        return False
    grown = all(
        key in budget and None not in values and values[1] >= values[0]
        for key, values in changed.items()
    )
    if grown:
        return True
    listed = ", ".join(f"{key} {old} → {new}" for key, (old, new) in changed.items())
    raise ArtefactMismatchError(
        f"{directory} was built with other settings than profile {manifest['profile']!r} now "
        f"has (changed: {listed}). Delete {directory} to rebuild it, or point WM_DATA at "
        f"another folder to keep both."
    )


def build_ids(inputs: dict[str, Path]) -> dict[str, str | None]:
    """The build id of each input artefact (None for one not built)."""
    return {name: (read_manifest(folder) or {}).get("build") for name, folder in inputs.items()}


def check_inputs(directory: Path, manifest: dict, inputs: dict[str, Path]) -> None:
    """Refuse an artefact whose inputs were rebuilt since it was built from them (or, for one
    still unfinished, since it began: an input that did not exist yet is built by the stage)."""
    recorded = manifest.get("inputs", {})
    changed = [
        name
        for name, build in build_ids(inputs).items()
        if recorded.get(name) != build and (manifest["complete"] or recorded.get(name))
    ]
    if changed:
        raise ArtefactMismatchError(
            f"{directory} was built from another {changed[0]} than the one now in "
            f"{inputs[changed[0]]} (rebuilt since). Delete {directory} to rebuild it from the "
            f"new one."
        )


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the folder's lock: a second run building the same artefact waits for the first."""
    with open(directory / LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another run that is building {directory} ...", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def stopwatch(directory: Path, manifest: dict) -> Iterator[Callable[[], float]]:
    """Yield a clock of the seconds the artefact has taken: those of earlier, interrupted runs
    (`manifest["seconds"]`) and this run's. Until the block ends, a thread writes them into the
    manifest every `TIME_KEEPING_SECONDS`, so that a build killed midway and resumed reports
    what it cost in all, not only its last part."""
    start, earlier = time.perf_counter(), manifest["seconds"]
    stopped = threading.Event()

    def seconds() -> float:
        return round(earlier + time.perf_counter() - start, 1)

    def keep_time() -> None:
        while not stopped.wait(TIME_KEEPING_SECONDS):
            write_manifest(directory, {**manifest, "seconds": seconds()})

    keeper = threading.Thread(target=keep_time, daemon=True)
    keeper.start()
    try:
        yield seconds
    finally:
        stopped.set()
        keeper.join()


def build(
    directory: Path,
    profile_name: str,
    settings: dict,
    make: Callable[[], dict],
    budget: tuple[str, ...] = (),
    inputs: dict[str, Path] | None = None,
) -> dict:
    """Run `make()` under a manifest that records progress, settings, inputs and time taken,
    unless the artefact is already complete; return the manifest. `make` returns the artefact's
    summary; `inputs` names the folders of the artefacts it is built from."""
    inputs = inputs or {}
    fetch_in_colab(directory)  # before making the folder, which would hide that it is missing
    writable_data_root()
    directory.mkdir(parents=True, exist_ok=True)
    with locked(directory):
        manifest = read_manifest(directory)
        grown = False
        if manifest is not None:
            grown = check_reusable(directory, manifest, settings, budget)
            check_inputs(directory, manifest, inputs)
            if grown:
                manifest.update(settings=settings, complete=False)
        if manifest is not None and manifest["complete"]:
            return manifest
        remove_partial_files(directory)
        manifest = manifest or {
            "profile": profile_name,
            "settings": settings,
            "wmlib_version": __version__,
            "seconds": 0.0,
            "complete": False,
            "inputs": build_ids(inputs),
        }
        write_manifest(directory, manifest)
        with stopwatch(directory, manifest) as seconds:
            summary = make()
        if grown or "build" not in manifest:
            manifest["build"] = uuid.uuid4().hex  # a new build; one resumed unchanged keeps its id
        manifest.update(
            complete=True,
            seconds=seconds(),
            machine=f"{platform.machine()}, {os.cpu_count()} cores",
            finished=time.strftime("%Y-%m-%d %H:%M:%S"),
            summary=summary,
            inputs=build_ids(inputs),
        )
        write_manifest(directory, manifest)
        return manifest
