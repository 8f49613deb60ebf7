"""Recording episodes with a data policy, in parallel (chapter 1: MDPs and CarRacing).

V and M learn from episodes played by a data policy of the task (`Task.policies`), never by the
agent being trained. Each episode is written to its own file as soon as it ends (`wmlib.files`),
so a collection that is killed leaves only whole episodes behind and resumes by recording the
ones that are missing.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from wmlib.config import FrameConfig, PoolConfig, RolloutConfig
from wmlib.env import task as get_task
from wmlib.files import (
    DataFileError,
    Episode,
    check_episode,
    episode_path,
    remove_partial_files,
    save_episode,
)
from wmlib.workers import dask_scheduler, make_pool, worker_count


def run_episode(
    task_name: str,
    policy: str | object,
    seed: int,
    max_steps: int,
    frame_config: FrameConfig = FrameConfig(),
) -> Episode:
    """Play one episode of a task and record it, with one of the task's data policies (named)
    or with a policy object that has a `name` (the agent itself: `agent.AgentPolicy`)."""
    task = get_task(task_name)
    env = task.make_env(max_steps)
    rng = np.random.default_rng(seed)
    policy_name = policy if isinstance(policy, str) else policy.name
    policy = task.make_policy(policy) if isinstance(policy, str) else policy
    raw, _ = env.reset(seed=seed)
    frame = task.preprocess(raw, frame_config)
    policy.reset(rng, frame.shape)
    observations, actions, rewards, per_step = [], [], [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = policy.act(frame)
        observations.append(frame)
        actions.append(action)
        per_step.append(task.step_extras(env))
        raw, reward, terminated, truncated, _ = env.step(task.env_action(action))
        rewards.append(reward)
        frame = task.preprocess(raw, frame_config)
    extras = {name: np.stack([step[name] for step in per_step]) for name in per_step[0]}
    extras.update(task.episode_extras(env))
    env.close()
    return Episode(
        observations=np.stack(observations),
        actions=np.array(actions, dtype=np.float32),
        rewards=np.array(rewards, dtype=np.float32),
        terminated=bool(terminated),
        truncated=bool(truncated),
        seed=int(seed),
        policy=policy_name,
        extras=extras,
    )


def parallel_map(
    function: Callable,
    arguments: Iterable[tuple],
    workers: int,
    description: str,
    total: int,
    pool: PoolConfig,
    max_steps: int,
) -> Iterator:
    """Yield `function(*args)` for each argument tuple, in completion order, with a progress bar;
    each call plays one episode of at most `max_steps` steps.

    With more than one worker (or a Dask scheduler) the calls run in a pool of fresh processes
    (`wmlib.workers.make_pool`), which start clean of any TensorFlow state the caller may hold
    and are replaced if they crash or run past the time limit `pool` gives one episode.
    """
    arguments = list(arguments)
    done = total - len(arguments)
    with tqdm(total=total, initial=done, desc=description, unit="episode") as progress:
        if workers <= 1 and not dask_scheduler():
            for args in arguments:
                yield function(*args)
                progress.update()
            return
        time_limit = pool.time_limit(1, max_steps)
        with make_pool(workers, time_limit, pool.retries) as processes:
            for _, result in processes.imap_unordered(function, arguments):
                yield result
                progress.update()


def record_episodes(
    task_name: str,
    policy_name: str,
    seeds: list[int],
    max_steps: int,
    workers: int = 0,
    pool: PoolConfig = PoolConfig(),
) -> list[Episode]:
    """Play one episode per seed with a policy, in parallel, and return them in seed order.

    `workers=0` uses one process per CPU core, and never more processes than seeds.
    """
    workers = min(worker_count(workers), len(seeds))
    arguments = [(task_name, policy_name, seed, max_steps) for seed in seeds]
    episodes = parallel_map(
        run_episode, arguments, workers, policy_name, len(seeds), pool, max_steps
    )
    return sorted(episodes, key=lambda episode: seeds.index(episode.seed))


def record_episode_file(
    directory: Path,
    index: int,
    task_name: str,
    config: RolloutConfig,
    frame_config: FrameConfig,
    policy: object | None = None,
) -> tuple[int, int, float]:
    """Record episode `index` of a collection to its file, with `policy` if given, else the
    data policy `config` names; return (index, steps, seconds)."""
    start = time.perf_counter()
    episode = run_episode(
        task_name, policy or config.policy, config.seed + index, config.max_steps, frame_config
    )
    save_episode(episode, episode_path(directory, index))
    return index, episode.steps, time.perf_counter() - start


def unrecorded(paths: list[Path]) -> dict[int, str | None]:
    """The episodes of a collection still to record, by index: None for a missing file, and for
    a file that is not a valid episode (checked from its headers) what is wrong with it."""
    found = {}
    for index, path in enumerate(paths):
        if not path.exists():
            found[index] = None
            continue
        try:
            check_episode(path, fix="It is recorded anew.")
        except DataFileError as error:
            found[index] = str(error)
    return found


def collect(
    directory: Path,
    task_name: str,
    config: RolloutConfig,
    frame_config: FrameConfig = FrameConfig(),
    workers: int = 0,
    pool: PoolConfig = PoolConfig(),
    policy: object | None = None,
) -> list[Path]:
    """Record every episode of `config` that is not yet in `directory`; return all their paths.

    Valid episodes already on disk are kept as they are; an invalid one is named and recorded
    anew over it, and partial files from an interrupted run are removed, so calling this again
    after a crash, or after deleting a bad file, finishes the collection without duplicates.
    `workers=0` uses one process per CPU core, and never more processes than missing episodes;
    `pool` sets a worker's time limit per episode and the retries. A `policy` object (the
    agent, in iterative training) plays instead of the data policy `config` names.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_partial_files(directory)
    paths = [episode_path(directory, index) for index in range(config.episodes)]
    missing = unrecorded(paths)
    for problem in filter(None, missing.values()):
        print(problem)
    arguments = [(directory, index, task_name, config, frame_config, policy) for index in missing]
    workers = min(worker_count(workers), max(len(missing), 1))
    recorded = parallel_map(
        record_episode_file, arguments, workers, "episodes", config.episodes, pool, config.max_steps
    )
    for _ in recorded:
        pass
    return paths
