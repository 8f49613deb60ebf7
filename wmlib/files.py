"""The files the pipeline writes: atomic writes, and the npz formats of episodes and latents.

Every file is written atomically (to a hidden `.partial.NAME` file, then renamed), so a run that
is killed leaves only whole files behind, and a write that fails (a full disk) removes its
partial file. Every `.npz` is checked from the `.npy` headers inside its zip (each array's dtype
and shape, read without decompressing the data) against its schema, the one place its arrays are
described, before anything else is read; nothing is ever unpickled. A bad file raises
`DataFileError` naming the file, what is wrong with it, and what to do.
"""

import errno
import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wmlib.data_folder import DATA_VARIABLE
from wmlib.errors import WorldModelsError

FRAME_SHAPE = (64, 64, 3)
"""The frames V sees and episodes store, whatever the task."""
READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
"""What reading a truncated, damaged or foreign file raises, from the zip, zlib or numpy."""
HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
"""numpy's readers of the `.npy` header versions that `np.savez` writes."""


class DataFileError(WorldModelsError, ValueError):
    """A data file (episode, latents) that is unreadable or does not hold what it should."""


class DiskFullError(WorldModelsError):
    """A write that failed because the device holding the data is full."""


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Have `write` fill a hidden partial file beside `path`, then rename it into place, so that
    a reader never finds half a file, whenever the writer is killed.

    The partial file keeps the name's suffix (Keras insists on `.keras`). If the write fails, it
    is removed rather than left to fill the disk; a full disk raises `DiskFullError`.
    """
    path = Path(path)
    partial = path.with_name(f".partial.{path.name}")
    try:
        write(partial)
        os.replace(partial, path)
    except BaseException as error:  # Ctrl-C too: never leave a partial file behind
        partial.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise DiskFullError(
                f"No space left on the device holding {path}: free some space, or point "
                f"{DATA_VARIABLE} at a folder on another device, and run again."
            ) from None
        raise


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to a compressed `.npz` atomically."""

    def write(partial: Path) -> None:
        with open(partial, "wb") as file:
            np.savez_compressed(file, **arrays)
            file.flush()
            os.fsync(file.fileno())

    write_atomically(path, write)


def write_json(path: Path, value) -> None:
    """Write a value as JSON atomically."""
    text = json.dumps(value, indent=1, sort_keys=True) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text))


def read_headers(path: Path, kind: str, fix: str) -> dict[str, tuple[np.dtype, tuple]]:
    """The dtype and shape of every array of a `.npz`, from the `.npy` header at the start of
    each member of its zip: only those few bytes are decompressed, and nothing is unpickled.

    A file that is no zip (truncated, or never one), or that holds pickled Python objects, raises
    `DataFileError` naming it, saying it is not a `kind` archive, and `fix`.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            headers = {
                name.removesuffix(".npy"): _npy_header(archive, name) for name in archive.namelist()
            }
    except READ_ERRORS as error:
        raise DataFileError(
            f"{path} is not a readable {kind} archive (.npz): {error}. {fix}"
        ) from None
    pickled = [name for name, (dtype, _) in headers.items() if dtype.hasobject]
    if pickled:
        raise DataFileError(
            f"{path} is not a valid {kind} archive: it holds pickled Python objects "
            f"({', '.join(pickled)}), which the library never loads. {fix}"
        )
    return headers


def _npy_header(archive: zipfile.ZipFile, name: str) -> tuple[np.dtype, tuple]:
    """(dtype, shape) from the header of one `.npy` member of a zip."""
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)
        if version not in HEADER_READERS:
            raise ValueError(f"{name} is in .npy format version {version}, not one numpy writes")
        shape, _, dtype = HEADER_READERS[version](member)
    return dtype, shape


def check_npz(
    path: Path, schema: dict[str, tuple[type, int]], kind: str, fix: str
) -> dict[str, tuple]:
    """Check a `.npz` from its headers: every array of the schema is there, with its dtype and
    number of dimensions. Returns every array's shape; a problem raises `DataFileError`."""
    headers = read_headers(path, kind, fix)
    missing = sorted(set(schema) - set(headers))
    problems = [f"missing arrays {missing}"] if missing else []
    problems += [
        f"{name} has dtype {headers[name][0]} and {len(headers[name][1])} dimensions, "
        f"expected {np.dtype(dtype)} and {ndim}"
        for name, (dtype, ndim) in schema.items()
        if name in headers
        and not (np.issubdtype(headers[name][0], dtype) and len(headers[name][1]) == ndim)
    ]
    if problems:
        raise DataFileError(f"{path} is not valid: {'; '.join(problems)}. {fix}")
    return {name: shape for name, (_, shape) in headers.items()}


def _load_arrays(path: Path, names: Iterable[str] | None, fix: str) -> dict[str, np.ndarray]:
    """Decompress the named arrays (all when None) of a `.npz` whose headers were checked; data
    damaged past its headers raises `DataFileError`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in names or archive.files}
    except READ_ERRORS as error:
        raise DataFileError(f"{path} is damaged ({error}). {fix}") from None


def read_npz(
    path: Path, schema: dict[str, tuple[type, int]], fix: str, kind: str = "data"
) -> dict[str, np.ndarray]:
    """Read a `.npz` after checking its headers against `schema` (`check_npz`).

    Any problem raises `DataFileError` naming the file, what is wrong, and `fix`.
    """
    check_npz(path, schema, kind, fix)
    return _load_arrays(path, None, fix)


EPISODE_SCHEMA = {
    "observations": (np.uint8, 4),
    "actions": (np.float32, 2),
    "rewards": (np.float32, 1),
    "terminated": (np.bool_, 0),
    "truncated": (np.bool_, 0),
    "seed": (np.int64, 0),
    "policy": (np.str_, 0),
}
"""The arrays every episode file holds, whatever the task: dtype and number of dimensions.
A task may store more (its `extras`, such as CarRacing's track); they are kept as they are."""
PER_STEP = ("observations", "actions", "rewards")
"""The schema's arrays that hold one row per step."""
EPISODE_FIX = "Delete it and run `python -m wmlib collect` to record it anew."
"""What to do about a bad episode file: `collect` records every missing or invalid episode."""


@dataclass(frozen=True)
class Episode:
    """One recorded episode. Step t: `observations[t]` was seen, `actions[t]` taken, `rewards[t]`
    received."""

    observations: np.ndarray
    """(T, 64, 64, 3) uint8 preprocessed frames."""
    actions: np.ndarray
    """(T, A) float32 actions, as the task's controller outputs them."""
    rewards: np.ndarray
    """(T,) float32."""
    terminated: bool
    """The episode ended by itself (in CarRacing: lap finished or car left the playfield)."""
    truncated: bool
    """The episode was cut by the time limit."""
    seed: int
    """The seed the environment and the policy were drawn with."""
    policy: str
    """The name of the policy that played it."""
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    """What the task records beside the schema (`Task.record_extras`), by name."""

    @property
    def steps(self) -> int:
        """Number of steps played."""
        return len(self.actions)

    @property
    def total_reward(self) -> float:
        """The undiscounted return."""
        return float(self.rewards.sum())


def episode_path(directory: Path, index: int) -> Path:
    """Where episode `index` of a collection lives."""
    return Path(directory) / f"episode_{index:05d}.npz"


def save_episode(episode: Episode, path: Path) -> None:
    """Write an episode to its file, atomically, each array with its schema's dtype."""
    arrays = {
        name: np.asarray(getattr(episode, name), dtype=dtype)
        for name, (dtype, _) in EPISODE_SCHEMA.items()
    }
    write_npz(path, {**episode.extras, **arrays})


def check_episode(path: Path, fix: str = EPISODE_FIX) -> int:
    """Check an episode file from its headers alone and return its number of steps.

    Fast enough to run on every episode before every stage: the schema's dtypes and dimensions,
    64×64×3 frames and one row per step in each per-step array are all read from the headers.
    A problem raises `DataFileError` naming the file, what is wrong, and `fix`.
    """
    shapes = check_npz(path, EPISODE_SCHEMA, "episode", fix)
    steps = shapes["actions"][0]
    problems = [
        f"{name} has {shapes[name][0]} steps but actions has {steps}"
        for name in PER_STEP
        if shapes[name][0] != steps
    ]
    if shapes["observations"][1:] != FRAME_SHAPE:
        problems.append(f"observations are {shapes['observations'][1:]} frames, not 64×64×3")
    if problems:
        raise DataFileError(f"{path} is not a valid episode: {'; '.join(problems)}. {fix}")
    return steps


def read_episode_arrays(path: Path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The named arrays (all when None) of an episode file, checked first (`check_episode`):
    only those are decompressed, so reading an episode's `terminated` flag skips its frames."""
    check_episode(path)
    return _load_arrays(path, names, EPISODE_FIX)


def load_episode(path: Path) -> Episode:
    """Read and validate an episode file; a bad file raises `DataFileError` naming it."""
    arrays = read_episode_arrays(path)
    scalars = {name: value[()] for name, value in arrays.items() if value.ndim == 0}
    values = {name: scalars.get(name, arrays[name]) for name in EPISODE_SCHEMA}
    extras = {
        name: scalars.get(name, value)
        for name, value in arrays.items()
        if name not in EPISODE_SCHEMA
    }
    return Episode(**values, extras=extras)


def count_steps(paths: Iterable[Path]) -> int:
    """Steps recorded in episode files, each checked from its headers (`check_episode`), so a
    bad file is named here, before a stage trains on it."""
    return sum(check_episode(path) for path in paths)


LATENT_SCHEMA = {
    "mean": (np.float32, 2),
    "log_variance": (np.float32, 2),
    "actions": (np.float32, 2),
}
"""Arrays of a latents file: V's μ and log σ² for every frame of an episode, and its actions."""


def save_latents(path: Path, mean: np.ndarray, log_variance: np.ndarray, actions: np.ndarray):
    """Store an episode's encodings (not a sampled z: M resamples z from them every batch)."""
    write_npz(path, {"mean": mean, "log_variance": log_variance, "actions": actions})


def load_latents(path: Path) -> dict[str, np.ndarray]:
    """Read and validate an episode's latents file (`mean`, `log_variance`, `actions`).

    The fix for a bad one encodes that episode again: the latents stage encodes the files it
    misses, keeping its build id, so M, built from the latents, stays valid.
    """
    path = Path(path)
    fix = f"Delete {path} and run `python -m wmlib latents` to encode its episode again."
    arrays = read_npz(path, LATENT_SCHEMA, fix, kind="latents")
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) != 1 or arrays["mean"].shape != arrays["log_variance"].shape:
        raise DataFileError(f"{path} has arrays of different lengths {lengths}. {fix}")
    return arrays


def remove_partial_files(directory: Path) -> None:
    """Delete what interrupted atomic writes left in a folder: hidden `.partial.NAME` files (and
    the `.NAME.partial` files of earlier versions of the library)."""
    for partial in [*Path(directory).glob(".*.partial"), *Path(directory).glob(".partial.*")]:
        partial.unlink(missing_ok=True)
