"""The agent: V, M and C driving real environments, in lock-step and in worker processes
(chapter 8: control).

At each step the agent preprocesses the frame, encodes it with V and samples z, lets C act on
[z, h], and feeds z and the action to M, which updates its memory h. Several environments are
stepped in lock-step so that V and M run once per step on a batch; C is a NumPy product.
`Rollouts` spreads many episodes over a pool of workers, each loading V and M once.
"""

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from wmlib import controller, media, memory, training, vision
from wmlib.config import ControlConfig, FrameConfig, PoolConfig
from wmlib.env import Task
from wmlib.env import task as get_task
from wmlib.files import FRAME_SHAPE
from wmlib.runtime import tf, use_one_thread
from wmlib.workers import make_pool, worker_count


class Agent:
    """V, M and C driving a batch of environments of one task in lock-step.

    Each environment has its own controller parameters and its own noise generator for V's
    sampled z (the paper feeds C a sample, not μ), seeded by the episode's seed so that a rollout
    is the same whichever worker plays it and whichever other rollouts share its batch.
    `mdnrnn=None` is the paper's z-only ablation: M is not run at all.

    One compiled call per step runs V on the new frames and lets M take in the previous step,
    whose z and action are kept until then. V and M always run on the whole batch of `reset`:
    rows whose episode ended are fed blank frames and dropped from the actions, so that the
    compiled call keeps its shapes and is never compiled again while episodes end.
    """

    def __init__(
        self,
        vae: vision.ConvVAE,
        mdnrnn: memory.MDNRNN | None,
        task: Task,
        frame_config: FrameConfig = FrameConfig(),
    ):
        self.vae, self.mdnrnn, self.task, self.frame_config = vae, mdnrnn, task, frame_config

    def reset(self, parameters: np.ndarray, seeds: list[int], action_noise: float = 0.0) -> None:
        """Start a batch of episodes: one row of controller parameters per seed. With
        `action_noise` the agent explores: Gaussian noise of that standard deviation is added to
        C's raw outputs before they are squashed into the action ranges, and M takes in the
        action actually taken (iterative training records such episodes)."""
        self.parameters = np.asarray(parameters, dtype=np.float32).reshape(len(seeds), -1)
        self.noise = [np.random.default_rng(seed) for seed in seeds]
        self.action_noise = action_noise
        self.running = np.arange(len(seeds))
        self.state = None if self.mdnrnn is None else self.mdnrnn.initial_state(len(seeds))
        self.previous = None

    def act(self, observations: np.ndarray) -> np.ndarray:
        """Actions for the raw observations of the episodes still running (`keep`), in order."""
        return self.act_on_frames(self.task.preprocess(observations, self.frame_config))

    def act_on_frames(self, running_frames: np.ndarray) -> np.ndarray:
        """Actions for the preprocessed frames (V's input) of the episodes still running."""
        frames = np.zeros((len(self.parameters), *FRAME_SHAPE), np.uint8)
        frames[self.running] = running_frames
        epsilon = self.running_noise(self.vae.latent_size)
        if self.previous is None:
            z = self.see(frames, epsilon)
        else:
            z, self.state = self.remember_and_see(*self.state, *self.previous, frames, epsilon)
        task = self.task
        features = controller.features(z, self.state, task.controller_reads_cell)
        actions = controller.act(self.parameters, features, self.explore, task.controller_bias)
        if self.mdnrnn is not None:
            self.previous = (z, actions)
        return actions[self.running]

    def explore(self, raw: np.ndarray) -> np.ndarray:
        """C's raw outputs → actions, perturbed by `action_noise` when the agent explores."""
        if self.action_noise:
            raw = raw + self.action_noise * self.running_noise(self.task.action_size)
        return self.task.controller_action(raw)

    def running_noise(self, size: int) -> np.ndarray:
        """Standard normal noise (rows, size) from each running episode's own generator; zeros in
        the rows of episodes that ended."""
        noise = np.zeros((len(self.parameters), size), np.float32)
        noise[self.running] = [self.noise[row].standard_normal(size) for row in self.running]
        return noise

    def keep(self, rows: list[int]) -> None:
        """Carry on with the running episodes at positions `rows` only (the others ended)."""
        self.running = self.running[rows]

    @tf.function(jit_compile=True, reduce_retracing=True)
    def see(self, frames, epsilon):
        """V, compiled: uint8 frames → z = μ + σ·ε, with the noise ε given."""
        mean, log_variance = self.vae.encoder(vision.to_float(frames), training=False)
        return mean + tf.exp(0.5 * log_variance) * epsilon

    @tf.function(jit_compile=True, reduce_retracing=True)
    def remember_and_see(self, h, c, z, actions, frames, epsilon):
        """M and V in one compiled call: M takes in the previous step (z, a), V the new frames.

        Returns (z, (h, c)). On a CPU, one XLA-compiled call for both costs ~0.6 of two calls
        of TensorFlow's graph executor (bench/control.py), which at small batches is mostly
        overhead; the models are attributes, not arguments, so that a call is cheap to match.
        """
        state = self.mdnrnn.remember(z, actions, (h, c))
        return self.see(frames, epsilon), state


def drive(
    agent: Agent,
    parameters: np.ndarray,
    seeds: list[int],
    max_steps: int,
    record: Collection[int] = (),
):
    """Play one episode per seed in lock-step; return each episode's total reward.

    With `record` (positions in `seeds`) also return, for each of those episodes, its raw frames
    and rewards (for videos), as a dict by position.
    """
    environments = [agent.task.make_env(max_steps) for _ in seeds]
    frames = np.stack(
        [env.reset(seed=int(seed))[0] for env, seed in zip(environments, seeds, strict=True)]
    )
    agent.reset(parameters, seeds)
    returns = np.zeros(len(seeds))
    recordings = {index: ([frames[index]], []) for index in record}
    active = list(range(len(seeds)))
    while active:
        actions = agent.act(frames)
        still_running, next_frames = [], []
        for row, index in enumerate(active):
            step = environments[index].step(agent.task.env_action(actions[row]))
            frame, reward, terminated, truncated, _ = step
            returns[index] += reward
            if index in recordings:
                recordings[index][0].append(frame)
                recordings[index][1].append(reward)
            if not (terminated or truncated):
                still_running.append(row)
                next_frames.append(frame)
        active = [active[row] for row in still_running]
        if active:
            agent.keep(still_running)
            frames = np.stack(next_frames)
    for env in environments:
        env.close()
    return (returns, recordings) if record else returns


@dataclass(frozen=True)
class Video:
    """A request to film one of a batch's episodes: its seed, and where to save the GIF."""

    seed: int
    """The track to film; the task holding it films it while it drives the others."""
    path: str
    """Where the GIF goes, written atomically by the worker that drove the episode."""


def save_video(task: Task, frames: list, rewards: list, episode_return: float, path: str) -> None:
    """An episode's raw frames as a GIF in real time, the reward so far written on each and the
    episode's return, as scored, in the file's comment (`video_return` reads it)."""
    frames_per_second = task.frames_per_second / task.video_stride
    pictures = media.video_frames(frames, rewards, task.video_scale, task.video_stride)
    media.write_gif(path, pictures, frames_per_second, f"return {float(episode_return)!r}")


def video_return(path) -> float:
    """The return of the episode a video made by `save_video` shows."""
    return float(media.gif_comment(path).removeprefix("return "))


@dataclass(frozen=True)
class AgentFiles:
    """What a worker needs to build an agent: the task, the frame settings and V's and M's
    saved models (M's is None for the z-only agent)."""

    task: str
    """The task's name (`Profile.task`)."""
    frame: FrameConfig
    """The profile's frame preprocessing, the same the models were trained on."""
    vae: str
    """Path of V's saved model."""
    mdnrnn: str | None
    """Path of M's saved model, or None for the z-only agent."""

    def load(self) -> Agent:
        """Load V and M and build the agent."""
        mdnrnn = training.load_model(self.mdnrnn, compile=False) if self.mdnrnn else None
        vae = training.load_model(self.vae, compile=False)
        return Agent(vae, mdnrnn, get_task(self.task), self.frame)


_AGENTS: dict[AgentFiles, Agent] = {}
"""The agents a worker process has built: V and M load once per worker."""


def loaded_agent(files: AgentFiles) -> Agent:
    """The agent of `files`, loaded once per worker process; the first holds TensorFlow to one
    thread (the parallelism comes from one worker per core)."""
    if not _AGENTS:
        use_one_thread()
    if files not in _AGENTS:
        _AGENTS[files] = files.load()
    return _AGENTS[files]


@dataclass
class AgentPolicy:
    """The agent as a data policy, one episode at a time: C with fixed parameters and noisy
    actions, for recording the episodes of a round of iterative training (`rollouts.collect`)."""

    files: AgentFiles
    """V's and M's saved models, loaded once per worker."""
    parameters: np.ndarray
    """C's parameters."""
    action_noise: float
    """Standard deviation of the noise on C's raw outputs (`Agent.reset`)."""
    name: str = "agent"
    """What episode files record as their policy."""

    def reset(self, rng: np.random.Generator, frame_shape: tuple[int, ...]) -> None:
        """Start an episode; the episode's generator seeds the agent's noise."""
        self.agent = loaded_agent(self.files)
        self.agent.reset(self.parameters[None], [rng.integers(2**63)], self.action_noise)

    def act(self, frame: np.ndarray) -> np.ndarray:
        """The action for one preprocessed frame."""
        return self.agent.act_on_frames(frame[None])[0]


def rollout_task(
    files: AgentFiles,
    parameters: np.ndarray,
    seeds: list,
    max_steps: int,
    video: Video | None = None,
) -> np.ndarray:
    """A worker's task: the returns of a few episodes driven in lock-step, filming the one on
    `video.seed` if it is among them, so that a video shows the very episode that was scored."""
    driver = loaded_agent(files)
    if video is None or video.seed not in seeds:
        return drive(driver, parameters, seeds, max_steps)
    filmed = list(seeds).index(video.seed)
    returns, recordings = drive(driver, parameters, seeds, max_steps, record=[filmed])
    save_video(driver.task, *recordings[filmed], returns[filmed], video.path)
    return returns


class Rollouts:
    """Returns of many (parameters, seed) episodes, spread over worker processes in batches.

    Use it as a context manager: the workers (and the V and M each loads) live until it closes.
    The pool (`workers.make_pool`) is up to `workers` local processes (0: one per core), started
    only as tasks need them, or the workers of a Dask scheduler when one is set. A task drives
    `environments_per_task` episodes of the longest length asked for; `pool` gives it its time
    limit and retries.
    """

    def __init__(
        self,
        files: AgentFiles,
        settings: ControlConfig,
        workers: int,
        pool: PoolConfig = PoolConfig(),
    ):
        self.files, self.settings = files, settings
        steps = max(settings.training_steps, settings.evaluation_steps)
        time_limit = pool.time_limit(settings.environments_per_task, steps)
        self.pool = make_pool(worker_count(workers), time_limit, pool.retries)

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.pool.close()

    def returns(
        self, parameters: np.ndarray, seeds: list[int], max_steps: int, video: Video | None = None
    ) -> np.ndarray:
        """Total reward of episode i, driven by `parameters[i]` on track `seeds[i]`; `video`
        films the episode on its seed."""
        size = self.settings.environments_per_task
        tasks = [
            (
                self.files,
                parameters[start : start + size],
                seeds[start : start + size],
                max_steps,
                video,
            )
            for start in range(0, len(seeds), size)
        ]
        return np.concatenate(self.pool.map(rollout_task, tasks))

    def fitness(self, candidates: np.ndarray, seeds: list[int]) -> np.ndarray:
        """Each candidate's mean return over the same training tracks."""
        episodes = len(seeds)
        returns = self.returns(
            np.repeat(candidates, episodes, axis=0),
            list(seeds) * len(candidates),
            self.settings.training_steps,
        )
        return returns.reshape(len(candidates), episodes).mean(axis=1)

    def score(
        self, parameters: np.ndarray, seeds: list[int], video: Video | None = None
    ) -> np.ndarray:
        """One controller's returns on evaluation-length episodes, one per seed (`video` films
        one of them)."""
        steps = self.settings.evaluation_steps
        return self.returns(np.tile(parameters, (len(seeds), 1)), list(seeds), steps, video)
