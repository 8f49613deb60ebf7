"""Learning inside the dream (chapters 9 and 11): a reward head for M, and C's returns in dreams.

M predicts the next z and whether the episode ends, but not the reward, so a dream has nothing
to pay a controller. The reward head does: a small network that reads what the dream has after
each step, the new z and M's new memory h, and predicts the reward the real environment gave
for that step. It is fitted after M, on M's own hidden states, with M left as it is, so that
nothing already built on M (its controllers among them) changes. `DreamSearch` then gives
CMA-ES what the real environment gives it: each candidate's mean return, here over dreams.
"""

from dataclasses import dataclass

import numpy as np

from wmlib import controller
from wmlib.config import DreamConfig
from wmlib.env import Task
from wmlib.memory import MDNRNN, DreamEnv
from wmlib.runtime import keras, tf


def reward_examples(mdnrnn: MDNRNN, sequences: list[dict], seed: int):
    """([z_{t+1}, h_{t+1}], r_t) for every step of every encoded episode, as float32 arrays.

    z is drawn from V's stored μ and log σ², as M was trained on; h_{t+1} is M's memory once it
    has taken in z_t and the action a_t, whose reward r_t is the target.
    """
    rng = np.random.default_rng(seed)
    features, targets = [], []
    for sequence in sequences:
        mean, log_variance = sequence["mean"], sequence["log_variance"]
        z = mean + np.exp(0.5 * log_variance) * rng.standard_normal(mean.shape)
        inputs = np.concatenate([z[:-1], sequence["actions"][:-1]], axis=-1)
        hidden, _, _ = mdnrnn.lstm(tf.constant(inputs[None], tf.float32))
        features.append(np.concatenate([z[1:], np.asarray(hidden)[0]], axis=-1))
        targets.append(sequence["rewards"][:-1])
    return (
        np.concatenate(features).astype(np.float32),
        np.concatenate(targets).astype(np.float32)[:, None],
    )


def build_reward_head(input_size: int, settings: DreamConfig) -> keras.Model:
    """A new, compiled reward head: [z, h] → one hidden ReLU layer → the predicted reward."""
    model = keras.Sequential(
        [
            keras.Input((input_size,)),
            keras.layers.Dense(settings.reward_hidden_units, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="reward_head",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


class SharedNoise:
    """Random draws for a batch of dreams made of `repeats` copies of the same dreams, one copy
    per candidate: every copy of a dream gets the same draws, as every candidate of the real
    search drives the same tracks with the same noise. Draws the way a NumPy generator does.

    After `only`, it draws for some rows of the batch alone (the dreams still going), each row
    what it would have drawn in the whole batch, so that no dream depends on which others ended.
    """

    def __init__(self, seed, repeats: int):
        self.rng, self.repeats = np.random.default_rng(seed), repeats
        self.rows, self.count = None, None

    def only(self, rows: np.ndarray, count: int) -> None:
        """Draw from now on for these rows of a batch of `count` dreams alone."""
        self.rows, self.count = rows, count

    def random(self, shape: tuple[int, ...]) -> np.ndarray:
        return self._repeated(self.rng.random, shape)

    def standard_normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self._repeated(self.rng.standard_normal, shape)

    def _repeated(self, draw, shape: tuple[int, ...]) -> np.ndarray:
        count = shape[0] if self.rows is None else self.count
        once = draw((count // self.repeats, *shape[1:]))
        whole = np.tile(once, (self.repeats,) + (1,) * (len(shape) - 1))
        return whole if self.rows is None else whole[self.rows]


def dream_returns(
    mdnrnn: MDNRNN,
    reward_head: keras.Model | None,
    parameters: np.ndarray,
    initial_z: np.ndarray,
    task: Task,
    settings: DreamConfig,
    noise: SharedNoise,
    use_memory: bool = True,
) -> np.ndarray:
    """The return of one dream per row of `parameters`, from the matching row of `initial_z`.

    All dreams run in one batched `DreamEnv`, which samples with `noise`, up to `settings.steps`
    steps; a dream that ended (M's done head) leaves the batch, so that M steps only the dreams
    still going. A step pays what `reward_head` predicts, or the task's `survival_reward` when
    it has one (Take Cover: +1 for every step the dream has not ended before).
    """
    env = DreamEnv(mdnrnn, initial_z, settings.temperature, settings.steps, reward_head=reward_head)
    env.rng = noise
    z, _ = env.reset()
    returns = np.zeros(len(z))
    going = np.arange(len(z))  # the rows of `parameters` whose dreams go on
    while len(going):
        inputs = controller.features(
            z, env.state if use_memory else None, task.controller_reads_cell
        )
        actions = controller.act(
            parameters[going], inputs, task.controller_action, task.controller_bias
        )
        z, reward, terminated, truncated, _ = env.step(actions)
        if task.survival_reward is not None:
            reward = np.full(len(z), task.survival_reward)
        returns[going] += reward
        still = ~(terminated | truncated)
        if not still.all():
            going, z = going[still], env.keep(still)
            noise.only(going, len(returns))
    return returns


@dataclass
class DreamSearch:
    """CMA-ES's fitness and its scoring of the mean, in dreams instead of the real environment.

    Dreams start from the first frames of real episodes (their stored μ and log σ²). In a
    generation every candidate dreams from the same starts, as every candidate of the real
    search drives the same tracks; the mean is scored on fixed starts and noise.
    """

    mdnrnn: MDNRNN
    """M, which dreams."""
    reward_head: keras.Model | None
    """What a dream pays for a step (`build_reward_head`); None for a task whose reward is for
    surviving (`Task.survival_reward`)."""
    first_frames: tuple[np.ndarray, np.ndarray]
    """μ and log σ² of the first frame of each real episode, (episodes, latent) each."""
    task: Task
    """The task: C's inputs and actions, and its survival reward if it has one."""
    settings: DreamConfig
    """The dream's settings."""
    use_memory: bool = True
    """Whether C sees [z, h] or z alone."""

    def returns(self, parameters: np.ndarray, picks: np.ndarray, noise: SharedNoise):
        """One dream per row of `parameters`, from a z drawn from the first frame of episode
        `picks[row]`, every draw from `noise`."""
        mean, log_variance = (array[picks] for array in self.first_frames)
        initial_z = mean + np.exp(0.5 * log_variance) * noise.standard_normal(mean.shape)
        return dream_returns(
            self.mdnrnn,
            self.reward_head,
            parameters,
            initial_z.astype(np.float32),
            self.task,
            self.settings,
            noise,
            self.use_memory,
        )

    def fitness(self, candidates: np.ndarray, generation: int) -> np.ndarray:
        """Each candidate's mean return over the generation's dreams, the same for all."""
        dreams = self.settings.episodes_per_candidate
        picks = np.random.default_rng([1, generation]).integers(
            len(self.first_frames[0]), size=dreams
        )
        noise = SharedNoise([2, generation], repeats=len(candidates))
        parameters = np.repeat(candidates, dreams, axis=0)
        returns = self.returns(parameters, np.tile(picks, len(candidates)), noise)
        return returns.reshape(len(candidates), dreams).mean(axis=1)

    def score(self, mean: np.ndarray) -> float:
        """The mean's return over the fixed dreams the search keeps its best mean by."""
        return float(self.fixed_returns(mean, self.settings.mean_evaluation_episodes).mean())

    def fixed_returns(self, parameters: np.ndarray, dreams: int) -> np.ndarray:
        """One controller's returns in `dreams` fixed dreams (the same starts and noise for every
        controller), the dream's counterpart of the fixed evaluation tracks."""
        picks = np.arange(dreams) % len(self.first_frames[0])
        noise = SharedNoise(0, repeats=1)
        return self.returns(np.tile(parameters, (dreams, 1)), picks, noise)
