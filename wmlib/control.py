"""C, the controller, and the agent that drives with V, M and C (chapter 8: control).

C is deliberately tiny: one linear map from what V sees (z) and what M remembers (h) to the three
actions, a = W [z, h] + b, 288 × 3 + 3 = 867 numbers. That is few enough for an evolution
strategy, which needs no gradient and only asks how well each candidate drives: CMA-ES proposes
a population of parameter vectors, each drives a few episodes, and their mean returns steer the
next proposal. All the work of understanding the road is left to V and M.

The agent steps several environments in lock-step so that V and M run once per step on a batch;
C is a NumPy product. Rollouts run in a `WorkerPool`, each worker loading V and M once.
"""

import pickle
import time
from collections.abc import Callable
from pathlib import Path

import cma
import numpy as np
from tqdm.auto import tqdm

from wmlib import memory, vision
from wmlib.config import ControlConfig, FrameConfig
from wmlib.env import controller_action, make_env, preprocess
from wmlib.rollouts import write_atomically, write_json, write_npz
from wmlib.runtime import keras, tf
from wmlib.workers import WorkerPool

ACTIONS = 3
"""Steering, gas and brake."""


def input_size(latent_size: int = 32, hidden_size: int = 256, use_memory: bool = True) -> int:
    """What C reads: z alone (the paper's ablation) or z beside M's hidden state h."""
    return latent_size + (hidden_size if use_memory else 0)


def parameter_count(latent_size: int = 32, hidden_size: int = 256, use_memory: bool = True) -> int:
    """W's entries and b's: (32 + 256) × 3 + 3 = 867 for the full agent, 99 for z only."""
    return (input_size(latent_size, hidden_size, use_memory) + 1) * ACTIONS


def act(parameters: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Actions of a batch of controllers: row i of `parameters` drives on row i of `features`.

    A parameter vector holds W row by row (input i's weights for steering, gas, brake), then b.
    The raw outputs go through the paper's squashing, `env.controller_action`.
    """
    inputs = features.shape[-1]
    weights = parameters[:, : inputs * ACTIONS].reshape(-1, inputs, ACTIONS)
    bias = parameters[:, inputs * ACTIONS :]
    return controller_action(np.einsum("bi,bio->bo", features, weights) + bias)


class Agent:
    """V, M and C driving a batch of environments in lock-step.

    Each environment has its own controller parameters and its own noise generator for V's
    sampled z (the paper feeds C a sample, not μ), seeded by the episode's seed so that a rollout
    is the same whichever worker plays it and whichever other rollouts share its batch.
    `mdnrnn=None` is the paper's z-only ablation: M is not run at all.
    """

    def __init__(
        self,
        vae: vision.ConvVAE,
        mdnrnn: memory.MDNRNN | None = None,
        frame_config: FrameConfig = FrameConfig(),
    ):
        self.vae, self.mdnrnn, self.frame_config = vae, mdnrnn, frame_config

    def reset(self, parameters: np.ndarray, seeds: list[int]) -> None:
        """Start a batch of episodes: one row of controller parameters per seed."""
        self.parameters = np.asarray(parameters, dtype=np.float32).reshape(len(seeds), -1)
        self.noise = [np.random.default_rng(seed) for seed in seeds]
        self.state = None if self.mdnrnn is None else self.mdnrnn.initial_state(len(seeds))

    def act(self, frames: np.ndarray) -> np.ndarray:
        """Actions (B, 3) for raw frames (B, 96, 96, 3): encode, decide, then let M remember."""
        mean, log_variance = vision.encode(self.vae, preprocess(frames, self.frame_config))
        epsilon = np.stack([noise.standard_normal(mean.shape[-1]) for noise in self.noise])
        z = (mean + np.exp(0.5 * log_variance) * epsilon).astype(np.float32)
        if self.mdnrnn is None:
            return act(self.parameters, z)
        hidden = np.asarray(self.state[0])
        actions = act(self.parameters, np.concatenate([z, hidden], axis=-1))
        _, _, self.state = self.mdnrnn.step(z, actions, self.state)
        return actions

    def keep(self, rows: list[int]) -> None:
        """Carry on with the environments in `rows` only (the others' episodes ended)."""
        self.parameters = self.parameters[rows]
        self.noise = [self.noise[row] for row in rows]
        if self.state is not None:
            self.state = tuple(np.asarray(part)[rows] for part in self.state)


def drive(
    agent: Agent, parameters: np.ndarray, seeds: list[int], max_steps: int, record: bool = False
):
    """Play one episode per seed in lock-step; return each episode's total reward.

    With `record=True` also return, per episode, its raw frames and rewards (for videos).
    """
    environments = [make_env(max_steps) for _ in seeds]
    frames = np.stack(
        [env.reset(seed=int(seed))[0] for env, seed in zip(environments, seeds, strict=True)]
    )
    agent.reset(parameters, seeds)
    returns = np.zeros(len(seeds))
    recordings = [([frame], []) for frame in frames] if record else None
    active = list(range(len(seeds)))
    while active:
        actions = agent.act(frames)
        still_running, next_frames = [], []
        for row, index in enumerate(active):
            frame, reward, terminated, truncated, _ = environments[index].step(actions[row])
            returns[index] += reward
            if record:
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


_AGENTS: dict = {}
"""The agents a worker process has built, by model paths: V and M load once per worker."""


def rollout_task(
    vae_path: str, mdnrnn_path: str | None, parameters: np.ndarray, seeds: list, max_steps: int
) -> np.ndarray:
    """A worker's task: the returns of a few episodes driven in lock-step.

    The first task a worker runs loads V and M, with TensorFlow held to one thread: the
    parallelism comes from one worker per core, and threads competing for a core only slow it.
    """
    key = (vae_path, mdnrnn_path)
    if not _AGENTS:  # TensorFlow's threads can only be set before its first operation
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if key not in _AGENTS:
        mdnrnn = keras.models.load_model(mdnrnn_path, compile=False) if mdnrnn_path else None
        _AGENTS[key] = Agent(keras.models.load_model(vae_path, compile=False), mdnrnn)
    return drive(_AGENTS[key], parameters, seeds, max_steps)


class Rollouts:
    """Returns of many (parameters, seed) episodes, spread over worker processes in batches.

    Use it as a context manager: the workers (and the V and M each loads) live until it closes.
    `models` are the paths of V's and M's saved models (M's is None for the z-only agent).
    """

    def __init__(self, models: tuple[str, str | None], settings: ControlConfig, workers: int):
        self.models, self.settings = models, settings
        self.pool = WorkerPool(workers, settings.rollout_time_limit)

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.pool.close()

    def returns(self, parameters: np.ndarray, seeds: list[int], max_steps: int) -> np.ndarray:
        """Total reward of episode i, driven by `parameters[i]` on track `seeds[i]`."""
        size = self.settings.environments_per_task
        tasks = [
            (*self.models, parameters[start : start + size], seeds[start : start + size], max_steps)
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

    def score(self, parameters: np.ndarray, seeds: list[int]) -> np.ndarray:
        """One controller's returns on evaluation-length episodes, one per seed."""
        return self.returns(
            np.tile(parameters, (len(seeds), 1)), list(seeds), self.settings.evaluation_steps
        )


def training_seeds(settings: ControlConfig, generation: int) -> list[int]:
    """The tracks every candidate of a generation drives on (the same for all of them)."""
    first = settings.training_seed + generation * settings.episodes_per_candidate
    return list(range(first, first + settings.episodes_per_candidate))


def evaluation_seeds(settings: ControlConfig) -> list[int]:
    """The fixed tracks of the final evaluation, the same for every run and every controller."""
    first = settings.evaluation_seed
    return list(range(first, first + settings.evaluation_episodes))


def mean_evaluation_seeds(settings: ControlConfig) -> list[int]:
    """The fixed tracks on which CMA-ES's mean is scored during the search (just below the
    final evaluation's, so the controller the search picks is still judged on new tracks)."""
    last = settings.evaluation_seed
    return list(range(last - settings.mean_evaluation_episodes, last))


class NormalSampler:
    """pycma's sampler drawn from our own seeded generator, so that it pickles with the search.

    pycma samples with `np.random.randn` by default, the process-wide generator, which a resumed
    run would have to restore by hand; this keeps the random state inside the pickled search.
    """

    def __init__(self, seed: int):
        self.generator = np.random.default_rng(seed)

    def __call__(self, *shape: int) -> np.ndarray:
        return self.generator.standard_normal(shape)


def new_search(dimension: int, settings: ControlConfig) -> dict:
    """A fresh CMA-ES search from all-zero parameters, and its (empty) record."""
    strategy = cma.CMAEvolutionStrategy(
        np.zeros(dimension),
        settings.initial_step_size,
        {
            "popsize": settings.population_size,
            "seed": settings.seed + 1,
            "randn": NormalSampler(settings.seed),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
        },
    )
    return {"strategy": strategy, "generation": 0, "history": [], "best": None}


def save_search(directory: Path, search: dict) -> None:
    """Save the whole search (pickled for resuming; history and best also as JSON and npz)."""
    pickled = pickle.dumps(search)
    write_atomically(directory / "search.pkl", lambda partial: partial.write_bytes(pickled))
    write_json(directory / "history.json", search["history"])
    if search["best"] is not None:
        write_npz(directory / "best.npz", search["best"])


def load_search(directory: Path) -> dict | None:
    """The search saved in `directory`, or None when there is none yet."""
    path = directory / "search.pkl"
    if not path.exists():
        return None
    try:
        return pickle.loads(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, AttributeError) as error:
        raise ValueError(
            f"{path} is not a readable CMA-ES search ({error}). Delete {directory} to start the "
            f"search again."
        ) from None


def penalised(fitness: np.ndarray, candidates: np.ndarray, weight_decay: float) -> np.ndarray:
    """The paper's fitness: mean return minus weight decay × the mean squared parameter."""
    return fitness - weight_decay * np.mean(candidates**2, axis=1)


def search(
    fitness: Callable[[np.ndarray, int], np.ndarray],
    score_mean: Callable[[np.ndarray], float],
    dimension: int,
    settings: ControlConfig,
    directory: Path,
) -> dict:
    """Run (or resume) CMA-ES, saving the search after every generation.

    `fitness(candidates, generation)` gives each candidate's mean return; `score_mean(x)` scores
    the search's mean on the fixed evaluation tracks every `mean_evaluation_interval` generations
    and at the end. The best-scoring mean is kept in `search["best"]`. Pycma minimises, so it is
    told the negated penalised fitness. A run killed at any point resumes from its last whole
    generation and proposes exactly what an uninterrupted run would have.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state = load_search(directory) or new_search(dimension, settings)
    strategy = state["strategy"]
    with tqdm(
        total=settings.generations, initial=state["generation"], desc="CMA-ES", unit="generation"
    ) as progress:
        while state["generation"] < settings.generations:
            generation, start = state["generation"], time.perf_counter()
            candidates = np.array(strategy.ask())
            returns = fitness(candidates, generation)
            strategy.tell(
                list(candidates), list(-penalised(returns, candidates, settings.weight_decay))
            )
            record = {
                "generation": generation + 1,
                "best": float(returns.max()),
                "mean": float(returns.mean()),
                "worst": float(returns.min()),
                "sigma": float(strategy.sigma),
            }
            if (generation + 1) % settings.mean_evaluation_interval == 0 or (
                generation + 1 == settings.generations
            ):
                mean = np.array(strategy.mean)
                record["mean_score"] = float(score_mean(mean))
                if state["best"] is None or record["mean_score"] > state["best"]["score"]:
                    state["best"] = {
                        "parameters": mean,
                        "score": np.array(record["mean_score"]),
                        "generation": np.array(generation + 1),
                    }
            record["seconds"] = round(time.perf_counter() - start, 2)
            state["history"].append(record)
            state["generation"] = generation + 1
            save_search(directory, state)
            progress.set_postfix(best=f"{record['best']:.0f}", mean=f"{record['mean']:.0f}")
            progress.update()
    return state


VIDEO_STRIDE = 3
"""A video keeps every third frame (shown at a third of CarRacing's frame rate, in real time)."""


def video_frames(
    frames: list[np.ndarray], rewards: list[float], scale: int = 2, stride: int = VIDEO_STRIDE
):
    """Pictures for a video of one episode: every `stride`-th raw frame, enlarged `scale` times,
    with the step and the reward collected so far written on it."""
    from PIL import Image, ImageDraw

    cumulative = np.concatenate([[0.0], np.cumsum(rewards)])
    pictures = []
    for step in range(0, len(frames), stride):
        picture = Image.fromarray(frames[step]).resize(
            (frames[step].shape[1] * scale, frames[step].shape[0] * scale), Image.NEAREST
        )
        ImageDraw.Draw(picture).text(
            (6, 4), f"step {step:4d}   reward {cumulative[step]:6.1f}", fill=(255, 255, 255)
        )
        pictures.append(picture)
    return pictures


def write_gif(path: Path, pictures: list, frames_per_second: float) -> None:
    """Save pictures as a looping GIF, atomically."""
    write_atomically(
        path,
        lambda partial: pictures[0].save(
            partial,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=round(1000 / frames_per_second),
            loop=0,
        ),
    )
