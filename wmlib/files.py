"""The files the pipeline writes: atomic writes, and the npz formats of episodes and latents.

Every file is written atomically (to a hidden `.partial` file, then renamed), so a run that is
killed leaves only whole files behind. Every `.npz` is read without unpickling and checked
against its schema, the one place its arrays are described; a bad file raises `DataFileError`
naming the file, what is wrong with it, and what to do.
"""

import json
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wmlib.errors import WorldModelsError

FRAME_SHAPE = (64, 64, 3)
"""The frames V sees and episodes store, whatever the task."""


class DataFileError(WorldModelsError, ValueError):
    """A data file (episode, latents) that is unreadable or does not hold what it should."""


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Have `write` fill a hidden partial file beside `path`, then rename it into place, so that
    a reader never finds half a file, whenever the writer is killed."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    write(partial)
    os.replace(partial, path)


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


def read_npz(path: Path, schema: dict[str, tuple[type, int]], fix: str) -> dict[str, np.ndarray]:
    """Read a `.npz` without unpickling and check each array's dtype and number of dimensions.

    Any problem raises `DataFileError` naming the file, what is wrong, and `fix`.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataFileError(f"{path} is not a readable data file ({error}). {fix}") from None
    missing = sorted(set(schema) - set(arrays))
    problems = [f"missing arrays {missing}"] if missing else []
    problems += [
        f"{name} has dtype {arrays[name].dtype} and {arrays[name].ndim} dimensions, "
        f"expected {np.dtype(dtype)} and {ndim}"
        for name, (dtype, ndim) in schema.items()
        if name in arrays
        and not (np.issubdtype(arrays[name].dtype, dtype) and arrays[name].ndim == ndim)
    ]
    if problems:
        raise DataFileError(f"{path} is not valid: {'; '.join(problems)}. {fix}")
    return arrays


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


def load_episode(path: Path) -> Episode:
    """Read and validate an episode file; a bad file raises `DataFileError` naming it."""
    fix = "Delete it and collect again (python -m wmlib collect) to record it anew."
    arrays = read_npz(path, EPISODE_SCHEMA, fix)
    problems = _shape_problems(arrays)
    if problems:
        raise DataFileError(f"{path} is not a valid episode: {'; '.join(problems)}. {fix}")
    scalars = {name: value[()] for name, value in arrays.items() if value.ndim == 0}
    values = {name: scalars.get(name, arrays[name]) for name in EPISODE_SCHEMA}
    extras = {
        name: scalars.get(name, value)
        for name, value in arrays.items()
        if name not in EPISODE_SCHEMA
    }
    return Episode(**values, extras=extras)


def _shape_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """What is wrong with the shapes of an episode's arrays, as readable sentences."""
    steps = len(arrays["actions"])
    problems = [
        f"{name} has {len(arrays[name])} steps but actions has {steps}"
        for name in PER_STEP
        if len(arrays[name]) != steps
    ]
    if arrays["observations"].shape[1:] != FRAME_SHAPE:
        problems.append(f"observations are {arrays['observations'].shape[1:]} frames, not 64×64×3")
    return problems


def count_steps(paths: Iterable[Path]) -> int:
    """Steps recorded in episode files, reading only their (small) action arrays."""
    total = 0
    for path in paths:
        with np.load(path, allow_pickle=False) as archive:
            total += len(archive["actions"])
    return total


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
    """Read and validate an episode's latents file (`mean`, `log_variance`, `actions`)."""
    fix = "Delete it and run ensure_latents() (python -m wmlib latents) to encode it again."
    arrays = read_npz(path, LATENT_SCHEMA, fix)
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) != 1 or arrays["mean"].shape != arrays["log_variance"].shape:
        raise DataFileError(f"{path} has arrays of different lengths {lengths}. {fix}")
    return arrays
