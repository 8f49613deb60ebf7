"""The artefact cache's bookkeeping: manifests, and when an artefact on disk may be reused.

Every artefact folder holds a `manifest.json` with the profile, the settings it was built with,
the library version, the machine and the time the build took, written atomically like
everything else. An artefact is reused when its settings are the active profile's; resumed when
its build was interrupted, or when only its own budget grew (more generations, more episodes);
and refused, with the fix, when anything else differs.
"""

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from wmlib import __version__
from wmlib.errors import WorldModelsError
from wmlib.files import write_json

MANIFEST = "manifest.json"


class ArtefactMismatchError(WorldModelsError, RuntimeError):
    """An artefact on disk that cannot serve the active profile as it is."""


def read_manifest(directory: Path) -> dict | None:
    """The manifest of an artefact folder, or None when it has none yet."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ArtefactMismatchError(
            f"{path} is not valid JSON ({error}). Delete {directory} and run again to rebuild it."
        ) from None


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


def check_reusable(directory: Path, manifest: dict, settings: dict, budget: tuple[str, ...]):
    """Refuse an artefact of another library major version or other settings, except that an
    artefact whose own `budget` settings only grew is to be continued. Returns whether it is."""
    built_by = manifest.get("wmlib_version", "unknown")
    if built_by.split(".")[0] != __version__.split(".")[0]:
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


def build(
    directory: Path,
    profile_name: str,
    settings: dict,
    make: Callable[[], dict],
    budget: tuple[str, ...] = (),
) -> dict:
    """Run `make()` under a manifest that records progress, settings and time taken, unless the
    artefact is already complete; return the manifest. `make` returns the artefact's summary."""
    manifest = read_manifest(directory)
    if manifest is not None and check_reusable(directory, manifest, settings, budget):
        manifest.update(settings=settings, complete=False)
    if manifest is not None and manifest["complete"]:
        return manifest
    directory.mkdir(parents=True, exist_ok=True)
    manifest = manifest or {
        "profile": profile_name,
        "settings": settings,
        "wmlib_version": __version__,
        "seconds": 0.0,
        "complete": False,
    }
    write_manifest(directory, manifest)
    start = time.perf_counter()
    summary = make()
    manifest.update(
        complete=True,
        seconds=round(manifest["seconds"] + time.perf_counter() - start, 1),
        machine=f"{platform.machine()}, {os.cpu_count()} cores",
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        summary=summary,
    )
    write_manifest(directory, manifest)
    return manifest
