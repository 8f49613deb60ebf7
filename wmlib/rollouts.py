"""Policies that collect V's and M's training data, and the episode files they fill (chapter 1).

An episode is recorded with one seed, which fixes both the track CarRacing generates and the
policy's randomness, so episode i of a collection is the same whoever records it and whenever.
Each episode is one compressed `.npz` written atomically (to a hidden `.partial` file, then
renamed), so a collection that is killed leaves only whole episodes behind and resumes by
recording the ones that are missing.
"""

import json
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from wmlib.config import FrameConfig, RolloutConfig
from wmlib.env import ACTION_HIGH, ACTION_LOW, controller_action, make_env, preprocess
from wmlib.workers import WorkerPool

LATENT_SIZE = 32
"""Size of the random features that stand in for an untrained V's z (the paper's z size)."""
EPISODE_TIME_LIMIT = 600.0
"""Seconds one recorded episode may take in a worker before the worker is replaced and the
episode recorded again (a 1,000-step episode takes about 7 s on one core)."""


@dataclass
class RandomWeightsPolicy:
    """The paper's data policy: the whole agent V, M and C with random, untrained weights.

    The paper draws the controller's weights from N(0, s²) with s ~ U(0, 0.01), anew for every
    episode. Here a random projection of the frame stands in for the untrained V (and M's state is
    left out): with weights that small the actions barely depend on the frame anyway, and the car
    drives almost straight at half gas, steering a little differently in each episode.
    """

    max_weight_scale: float = 0.01
    """Upper end of the uniform draw of the weights' standard deviation s."""

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Draw this episode's random V (a projection) and C (weights and bias)."""
        inputs = int(np.prod(frame_shape))
        scale = rng.uniform(0.0, self.max_weight_scale)
        self.projection = rng.standard_normal((inputs, LATENT_SIZE)) / np.sqrt(inputs)
        self.weights = rng.normal(0.0, scale, (LATENT_SIZE, 3))
        self.bias = rng.normal(0.0, scale, 3)

    def act(self, frame: np.ndarray) -> np.ndarray:
        """C's action on the random features of the 64×64 frame."""
        features = (frame.reshape(-1) / 255.0) @ self.projection
        return controller_action(features @ self.weights + self.bias)


@dataclass
class BrownianPolicy:
    """Actions that wander as Brownian motion: a_{t+1} = clip(a_t + √dt · ε), ε ~ N(0, I).

    Smooth in time like a person's steering, and far more varied than the random-weights agent,
    so the car turns, brakes and visits more of the track and the grass.
    """

    dt: float = 1.0 / 50.0
    """Time step of the random walk; CarRacing runs at 50 frames per second."""

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Start the walk from a uniformly random action."""
        self.rng = rng
        self.action = rng.uniform(ACTION_LOW, ACTION_HIGH).astype(np.float32)

    def act(self, frame: np.ndarray) -> np.ndarray:
        """Take one step of the walk; the frame is ignored."""
        step = np.sqrt(self.dt) * self.rng.standard_normal(3)
        self.action = np.clip(self.action + step, ACTION_LOW, ACTION_HIGH).astype(np.float32)
        return self.action


@dataclass
class UniformPolicy:
    """A fresh uniformly random action every frame: the textbook random agent.

    It brakes on half of its frames and its steering averages out, so the car barely moves.
    """

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Keep the episode's random generator."""
        self.rng = rng

    def act(self, frame: np.ndarray) -> np.ndarray:
        """An action drawn uniformly from the action box; the frame is ignored."""
        return self.rng.uniform(ACTION_LOW, ACTION_HIGH).astype(np.float32)


POLICIES = {
    "random_weights": RandomWeightsPolicy,
    "brownian": BrownianPolicy,
    "uniform": UniformPolicy,
}


def make_policy(name: str):
    """A new policy called `name`, or a clear error listing the known names."""
    if name not in POLICIES:
        raise ValueError(f"Unknown data policy {name!r}; choose one of {', '.join(POLICIES)}.")
    return POLICIES[name]()


@dataclass(frozen=True)
class Episode:
    """One recorded episode. Step t: `observations[t]` was seen, `actions[t]` taken, `rewards[t]`
    received; `positions[t]` is where the car was when it saw `observations[t]`."""

    observations: np.ndarray
    """(T, 64, 64, 3) uint8 preprocessed frames."""
    actions: np.ndarray
    """(T, 3) float32 steer, gas, brake."""
    rewards: np.ndarray
    """(T,) float32."""
    positions: np.ndarray
    """(T, 2) float32 car position in the world's coordinates."""
    track: np.ndarray
    """(N, 2) float32 centre line of the track, one point per tile."""
    tiles_visited: int
    """Track tiles the car touched."""
    terminated: bool
    """The episode ended by itself (lap finished or car left the playfield)."""
    truncated: bool
    """The episode was cut by the time limit."""
    seed: int
    """The seed the track and the policy were drawn with."""
    policy: str
    """The name of the policy that played it."""

    @property
    def steps(self) -> int:
        """Number of steps played."""
        return len(self.actions)

    @property
    def total_reward(self) -> float:
        """The undiscounted return."""
        return float(self.rewards.sum())

    @property
    def track_fraction(self) -> float:
        """Share of the track's tiles the car visited."""
        return self.tiles_visited / len(self.track)


def run_episode(
    policy_name: str,
    seed: int,
    max_steps: int,
    frame_config: FrameConfig = FrameConfig(),
) -> Episode:
    """Play one episode of CarRacing with a data policy and record it."""
    env = make_env(max_steps)
    rng = np.random.default_rng(seed)
    policy = make_policy(policy_name)
    raw, _ = env.reset(seed=seed)
    frame = preprocess(raw, frame_config)
    policy.reset(rng, frame.shape)
    car_racing = env.unwrapped
    track = np.array([point[2:4] for point in car_racing.track], dtype=np.float32)
    observations, actions, rewards, positions = [], [], [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = policy.act(frame)
        observations.append(frame)
        actions.append(action)
        positions.append(tuple(car_racing.car.hull.position))
        raw, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        frame = preprocess(raw, frame_config)
    tiles_visited = car_racing.tile_visited_count
    env.close()
    return Episode(
        observations=np.stack(observations),
        actions=np.array(actions, dtype=np.float32),
        rewards=np.array(rewards, dtype=np.float32),
        positions=np.array(positions, dtype=np.float32),
        track=track,
        tiles_visited=int(tiles_visited),
        terminated=bool(terminated),
        truncated=bool(truncated),
        seed=int(seed),
        policy=policy_name,
    )


class DataFileError(ValueError):
    """A data file (episode, latents) that is unreadable or does not hold what it should."""


def episode_path(directory: Path, index: int) -> Path:
    """Where episode `index` of a collection lives."""
    return Path(directory) / f"episode_{index:05d}.npz"


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


def save_episode(episode: Episode, path: Path) -> None:
    """Write an episode to its file, atomically."""
    write_npz(
        path,
        {
            "observations": episode.observations,
            "actions": episode.actions,
            "rewards": episode.rewards,
            "positions": episode.positions,
            "track": episode.track,
            "tiles_visited": np.int64(episode.tiles_visited),
            "terminated": np.bool_(episode.terminated),
            "truncated": np.bool_(episode.truncated),
            "seed": np.int64(episode.seed),
            "policy": np.str_(episode.policy),
        },
    )


EPISODE_SCHEMA = {
    "observations": (np.uint8, 4),
    "actions": (np.float32, 2),
    "rewards": (np.float32, 1),
    "positions": (np.float32, 2),
    "track": (np.float32, 2),
    "tiles_visited": (np.int64, 0),
    "terminated": (np.bool_, 0),
    "truncated": (np.bool_, 0),
    "seed": (np.int64, 0),
    "policy": (np.str_, 0),
}
"""Every array of an episode file: its dtype and number of dimensions."""


def load_episode(path: Path) -> Episode:
    """Read and validate an episode file; a bad file raises `DataFileError` naming it."""
    fix = "Delete it and collect again (python -m wmlib collect) to record it anew."
    arrays = read_npz(path, EPISODE_SCHEMA, fix)
    problems = _shape_problems(arrays)
    if problems:
        raise DataFileError(f"{path} is not a valid episode: {'; '.join(problems)}. {fix}")
    return Episode(
        **{name: value[()] if value.ndim == 0 else value for name, value in arrays.items()}
    )


def count_steps(paths: Iterable[Path]) -> int:
    """Steps recorded in episode files, reading only their (small) action arrays."""
    total = 0
    for path in paths:
        with np.load(path, allow_pickle=False) as archive:
            total += len(archive["actions"])
    return total


def _shape_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """What is wrong with the shapes of an episode's arrays, as readable sentences."""
    steps = len(arrays["actions"])
    problems = [
        f"{name} has {len(arrays[name])} steps but actions has {steps}"
        for name in ("observations", "rewards", "positions")
        if len(arrays[name]) != steps
    ]
    if arrays["observations"].shape[1:] != (64, 64, 3):
        problems.append(f"observations are {arrays['observations'].shape[1:]} frames, not 64×64×3")
    if arrays["actions"].shape[1:] != (3,):
        problems.append(f"actions have {arrays['actions'].shape[1:]} entries, not 3")
    return problems


def parallel_map(
    function: Callable, arguments: Iterable[tuple], workers: int, description: str, total: int
) -> Iterator:
    """Yield `function(*args)` for each argument tuple, in completion order, with a progress bar.

    With more than one worker the calls run in a `WorkerPool` of fresh (spawned) processes, which
    start clean of any TensorFlow state the caller may hold and are replaced if they crash or hang.
    """
    arguments = list(arguments)
    done = total - len(arguments)
    with tqdm(total=total, initial=done, desc=description, unit="episode") as progress:
        if workers <= 1:
            for args in arguments:
                yield function(*args)
                progress.update()
            return
        with WorkerPool(workers, EPISODE_TIME_LIMIT) as pool:
            for _, result in pool.imap_unordered(function, arguments):
                yield result
                progress.update()


def record_episodes(
    policy_name: str, seeds: list[int], max_steps: int, workers: int = 0
) -> list[Episode]:
    """Play one episode per seed with a policy, in parallel, and return them in seed order."""
    workers = workers or os.cpu_count()
    arguments = [(policy_name, seed, max_steps) for seed in seeds]
    episodes = parallel_map(run_episode, arguments, workers, policy_name, len(seeds))
    return sorted(episodes, key=lambda episode: seeds.index(episode.seed))


def record_episode_file(
    directory: Path, index: int, config: RolloutConfig, frame_config: FrameConfig
) -> tuple[int, int, float]:
    """Record episode `index` of a collection to its file; return (index, steps, seconds)."""
    start = time.perf_counter()
    episode = run_episode(config.policy, config.seed + index, config.max_steps, frame_config)
    save_episode(episode, episode_path(directory, index))
    return index, episode.steps, time.perf_counter() - start


def collect(
    directory: Path,
    config: RolloutConfig,
    frame_config: FrameConfig = FrameConfig(),
    workers: int = 0,
) -> list[Path]:
    """Record every episode of `config` that is not yet in `directory`; return all their paths.

    Episodes already on disk are kept as they are and partial files from an interrupted run are
    removed, so calling this again after a crash finishes the collection without duplicates.
    `workers=0` uses one process per CPU core.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for partial in directory.glob(".*.partial"):
        partial.unlink()
    paths = [episode_path(directory, index) for index in range(config.episodes)]
    missing = [index for index, path in enumerate(paths) if not path.exists()]
    arguments = [(directory, index, config, frame_config) for index in missing]
    workers = min(workers or os.cpu_count(), max(len(missing), 1))
    for _ in parallel_map(record_episode_file, arguments, workers, "episodes", config.episodes):
        pass
    return paths
