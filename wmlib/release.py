"""The published artefacts: a reader in Colab downloads V, M, C and the results instead of
training them for hours.

`make release` packs one profile's artefacts of each task into one archive,
`<profile>-<task>.tar.gz` (`publish`), and records its SHA-256 in the registry committed beside
this module (`release_registry.txt`, in pooch's format: a file name and its hash a line). The
maintainer uploads the archives as assets of the GitHub release `v<version>`; `fetch` downloads
one with pooch, checks it against the registry, and unpacks it whole into the data root.

An archive keeps every artefact's manifest, so that the pipeline finds each artefact complete
and built from the others, and the files the chapters load. It leaves out what the pipeline makes
again in minutes or never reads back: the recorded episodes and V's codes of them (a chapter that
reads them records the episodes again from their seeds and encodes them with the published V,
their kept manifests vouching that they are the ones V and M were built from), and V's and M's
training checkpoints (a reader who raises their budget trains them anew).

In Colab, the first artefact of a published profile and task that the pipeline or a chapter
looks at (`wmlib.artefacts`) fetches them all, unless `WM_TRAIN=1` says to build them there.
"""

import gzip
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

from wmlib import __version__
from wmlib.data_folder import data_root, task_folder, writable_data_root
from wmlib.errors import WorldModelsError
from wmlib.files import write_atomically

REPOSITORY_URL = "https://github.com/world-models-book/world-models"
"""The book's repository: `repository.url` in `_config.yml`, which a test checks it equals (the
library cannot read `_config.yml` in Colab, where it is installed as a package)."""
RELEASE_URL = f"{REPOSITORY_URL}/releases/download/v{__version__}/"
"""Where this version's archives are published: the assets of the GitHub release `v<version>`."""
REGISTRY = Path(__file__).with_name("release_registry.txt")
"""The release's archives and their SHA-256 hashes, written by `make release`."""
REGISTRY_HEADER = (
    "# The archives of the release and their SHA-256 (pooch's registry format), written by\n"
    "# `make release`: upload the archives as assets of the GitHub release v<version>."
)
TRAIN_VARIABLE = "WM_TRAIN"
"""Set it to 1 in Colab to build the artefacts there rather than download them."""
COLAB = "google.colab"
"""The module Colab's runtime imports, by which the library knows that it runs there."""
MANIFEST = "manifest.json"
"""The file that makes a folder an artefact (`wmlib.artefacts`)."""
RECORDED = ("episodes", "latents")
"""The artefacts published as their manifest alone: recorded again from their seeds, and
encoded again by the published V, when a chapter reads them."""
CHECKPOINT = "checkpoint.keras"
"""A training run's resume point (`wmlib.training`), which loading a trained model never reads."""


class ReleaseError(WorldModelsError, RuntimeError):
    """A release archive that cannot be made, downloaded or trusted."""


def archive_name(profile: str, task: str) -> str:
    """The file name of one profile's archive for one task."""
    return f"{profile}-{task}.tar.gz"


def read_registry(registry: Path = REGISTRY) -> dict[str, str]:
    """The SHA-256 of each archive the registry lists, by file name (none if it is missing)."""
    hashes = {}
    lines = registry.read_text().splitlines() if registry.exists() else []
    for number, line in enumerate(lines, 1):
        fields = line.split("#")[0].split()
        if fields and (len(fields) != 2 or len(fields[1]) != 64):
            raise ReleaseError(
                f"{registry}, line {number}, is not a file name and a SHA-256: {line!r}. "
                f"Write it again with `make release`."
            )
        if fields:
            hashes[fields[0]] = fields[1].lower()
    return hashes


def write_registry(hashes: dict[str, str], registry: Path = REGISTRY) -> None:
    """Write the registry atomically, one archive a line in order of name."""
    lines = [REGISTRY_HEADER, *(f"{name} {digest}" for name, digest in sorted(hashes.items()))]
    write_atomically(registry, lambda partial: partial.write_text("\n".join(lines) + "\n"))


def published(relative: Path) -> bool:
    """Whether a file of a task's artefacts (its path inside the task's folder) goes into the
    archive: all but hidden files (locks, partial writes), checkpoints and recorded data."""
    if any(part.startswith(".") for part in relative.parts) or relative.name == CHECKPOINT:
        return False
    return relative.parent.name not in RECORDED or relative.name == MANIFEST


def unfinished(folder: Path) -> list[Path]:
    """The artefacts under `folder` whose manifest does not say that they are complete."""
    return sorted(
        path.parent
        for path in folder.rglob(MANIFEST)
        if not json.loads(path.read_text()).get("complete")
    )


def pack(folder: Path, archive: Path) -> int:
    """Write the archive of the artefacts in `folder` (`<data root>/<profile>/<task>`), the files
    `published` keeps named from the data root, atomically; return how many files it holds.

    The same files give the same archive byte for byte (in sorted order, gzip's time stamp zero),
    so that releasing unchanged artefacts leaves the registry as it was.
    """
    paths = [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and published(path.relative_to(folder))
    ]

    def write(partial: Path) -> None:
        with (
            open(partial, "wb") as file,
            gzip.GzipFile(fileobj=file, mode="wb", mtime=0) as compressed,
            tarfile.open(fileobj=compressed, mode="w") as tar,
        ):
            for path in paths:
                tar.add(path, arcname=path.relative_to(folder.parent.parent).as_posix())

    archive.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(archive, write)
    return len(paths)


def publish(profile: str, task: str, out: Path, registry: Path = REGISTRY) -> Path:
    """Pack one profile's artefacts of one task into the folder `out` and record the archive's
    SHA-256 in the registry (`make release`); every artefact there must be complete."""
    import pooch  # only where archives are made or fetched

    folder = task_folder(profile, task)
    build = f"`python -m wmlib all --profile {profile} --task {task}`"
    if not folder.is_dir():
        raise ReleaseError(f"{folder} holds no artefacts to release: build them with {build}.")
    waiting = unfinished(folder)
    if waiting:
        raise ReleaseError(
            f"Unfinished artefacts (their manifests say so): {', '.join(map(str, waiting))}. "
            f"Finish them with {build} before releasing."
        )
    archive = Path(out) / archive_name(profile, task)
    pack(folder, archive)
    write_registry(
        {**read_registry(registry), archive.name: pooch.file_hash(str(archive))}, registry
    )
    return archive


def download(url: str, folder: Path, expected: str, registry: Path) -> Path:
    """Download `url` into `folder` with pooch's downloader and check its SHA-256 against
    `expected`, from `registry`; a failed download or another hash raises `ReleaseError`."""
    import pooch

    path = folder / url.rsplit("/", 1)[-1]
    train = f"set {TRAIN_VARIABLE}=1 to build the artefacts here instead"
    try:
        pooch.HTTPDownloader(progressbar=True, chunk_size=1 << 20)(url, str(path), None)
    except OSError as error:  # requests' errors are OSErrors: no network, no such asset
        raise ReleaseError(
            f"Could not download {url} ({error}). Check the network and run again, or {train}."
        ) from None
    actual = pooch.file_hash(str(path))
    if actual != expected:
        raise ReleaseError(
            f"{path.name}, downloaded from {url}, has SHA-256 {actual}, but {registry} expects "
            f"{expected}: the download was damaged, or the release holds other artefacts than "
            f"this wmlib's. Nothing was unpacked. Run again to download it anew; if its hash "
            f"differs again, install the wmlib of release v{__version__}, or {train}."
        )
    return path


def unpack(archive: Path, folder: Path, inside: str) -> Path:
    """Unpack an archive into `folder` and return its subfolder `inside` (`<profile>/<task>`);
    tarfile's `data` filter refuses links and paths leading out, and an archive holding anything
    outside `inside` is refused."""
    with tarfile.open(archive) as tar:
        stray = [name for name in tar.getnames() if not name.startswith(f"{inside}/")]
        if stray:
            raise ReleaseError(
                f"{archive.name} holds {stray[0]}, outside {inside}/: it is not the archive of "
                f"{inside}. Make it again with `make release`."
            )
        tar.extractall(folder, filter="data")
    return folder / inside


def fetch(profile: str, task: str, base_url: str = RELEASE_URL, registry: Path = REGISTRY) -> Path:
    """The folder of one profile's published artefacts of one task: downloaded from `base_url`,
    checked against the registry and unpacked there, unless the folder already exists.

    All of it happens in a hidden temporary folder of the data root whose unpacked folder is then
    renamed into place, so that a failed or interrupted fetch leaves nothing half-unpacked.
    """
    target = task_folder(profile, task)
    if target.exists():
        return target
    name, hashes = archive_name(profile, task), read_registry(registry)
    if name not in hashes:
        raise ReleaseError(
            f"{registry} lists no {name} (it lists {', '.join(hashes) or 'none'}): build the "
            f"artefacts with `python -m wmlib all --profile {profile} --task {task}`."
        )
    root = writable_data_root()
    print(
        f"Downloading the published artefacts of profile {profile!r} ({task}) from "
        f"{base_url}{name}; set {TRAIN_VARIABLE}=1 to build them here instead.",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix=".partial.release.", dir=root) as temporary:
        archive = download(base_url + name, Path(temporary), hashes[name], registry)
        inside = target.relative_to(data_root()).as_posix()
        unpacked = unpack(archive, Path(temporary) / "unpacked", inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        unpacked.rename(target)
    return target


def fetch_in_colab(directory: Path) -> None:
    """In Colab, fetch the published artefacts of the profile and task whose folder holds the
    artefact folder `directory` (`<data root>/<profile>/<task>/...`) if that folder is missing,
    unless `WM_TRAIN=1` asks to build them there or the release has none for them (the `ci` and
    `paper` profiles); elsewhere, do nothing. `wmlib.artefacts` calls it before it looks at any
    artefact."""
    if COLAB not in sys.modules or os.environ.get(TRAIN_VARIABLE, "").strip() not in ("", "0"):
        return
    directory, root = Path(directory).resolve(), data_root()
    parts = directory.relative_to(root).parts if directory.is_relative_to(root) else ()
    if len(parts) < 2:
        return  # not an artefact of the data root
    profile, task = parts[:2]
    if task_folder(profile, task).exists():
        return
    if archive_name(profile, task) in read_registry(REGISTRY):
        fetch(profile, task, RELEASE_URL, REGISTRY)
