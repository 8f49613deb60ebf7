"""M: the MDN-RNN and its dreams (chapter 5), on the LSTM of chapter 4 (`wmlib.lstm`).

The MDN-RNN is an LSTM over [z_t, a_t] followed by a mixture density head (`wmlib.mixture`,
chapter 3) that predicts the distribution of z_{t+1}, and a head that predicts the episode's
end. `DreamEnv` runs it forward on its own, sampling each next z: the world as M imagines it.
"""

import gymnasium as gym
import numpy as np

from wmlib import training
from wmlib.config import PRECISIONS
from wmlib.errors import WorldModelsError
from wmlib.files import load_latents, read_episode_arrays
from wmlib.mixture import MixtureDensityHead, gmm_log_likelihood, sample
from wmlib.runtime import keras, tf


def as_float32(*tensors) -> tuple:
    """The tensors in float32: M's memory leaves it so under any `precision`."""
    return tuple(tf.cast(tensor, tf.float32) for tensor in tensors)


@keras.saving.register_keras_serializable(package="wmlib")
class MDNRNN(training.SavesSeedState, training.LossTermsModel):
    """M: an LSTM over [z_t, a_t] with a mixture head per latent dimension for z_{t+1} (chapter 5).

    A second, single-unit head predicts whether the episode ends after the step (the logit of
    `done`), so that a dream can end. Training uses teacher forcing: the true z_t is fed at every
    step, and z is drawn afresh from V's stored μ and log σ² in every batch, with noise from the
    model's own seeded generator (saved with it, so a resumed run draws what an uninterrupted one
    would have).
    """

    def __init__(
        self,
        latent_size=32,
        action_size=3,
        hidden_units=256,
        mixtures=5,
        seed=0,
        done_weight=1.0,
        precision=None,
        **kwargs,
    ):
        super().__init__(("loss", "nll", "done"), **kwargs)
        self.latent_size, self.action_size = latent_size, action_size
        self.hidden_units, self.mixtures, self.seed = hidden_units, mixtures, seed
        self.done_weight, self.precision = done_weight, precision
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.lstm = keras.layers.LSTM(
            hidden_units, return_sequences=True, return_state=True, dtype=PRECISIONS[precision]
        )
        self.head = MixtureDensityHead(latent_size, mixtures, dtype="float32")
        self.done_head = keras.layers.Dense(1, dtype="float32")

    def call(self, inputs, initial_state=None, training=False):
        """[z, a] sequences (batch, time, latent + action) → (mixture, done logits, final state)."""
        hidden, h, c = self.lstm(inputs, initial_state=initial_state, training=training)
        return self.head(hidden), self.done_head(hidden)[..., 0], as_float32(h, c)

    def loss_terms(self, batch, training: bool):
        """(total, mixture NLL, done cross-entropy) on a batch of encoded sequences.

        `batch` holds μ, log σ², actions, done flags and a mask of real (not padded) steps, each
        with time on axis 1; step t's input predicts step t + 1.
        """
        mean, log_variance, actions, done, mask = batch
        epsilon = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        z = mean + tf.exp(0.5 * log_variance) * epsilon
        inputs = tf.concat([z[:, :-1], actions[:, :-1]], axis=-1)
        mixture, done_logits, _ = self(inputs, training=training)
        mask = mask[:, 1:]
        steps = tf.maximum(tf.reduce_sum(mask), 1.0)
        log_likelihood = tf.reduce_mean(gmm_log_likelihood(z[:, 1:], *mixture), axis=-1)
        nll = -tf.reduce_sum(log_likelihood * mask) / steps
        cross_entropy = tf.nn.weighted_cross_entropy_with_logits(
            done[:, 1:], done_logits, self.done_weight
        )
        done_loss = tf.reduce_sum(cross_entropy * mask) / steps
        return nll + done_loss, nll, done_loss

    def get_config(self):
        names = (
            "latent_size",
            "action_size",
            "hidden_units",
            "mixtures",
            "seed",
            "done_weight",
            "precision",
        )
        return {**super().get_config(), **{name: getattr(self, name) for name in names}}

    def initial_state(self, batch_size: int):
        """Zero hidden and cell states for `batch_size` parallel sequences."""
        zeros = tf.zeros((batch_size, self.hidden_units))
        return zeros, zeros

    @tf.function(reduce_retracing=True)
    def step(self, z, action, state):
        """One step for the agent or a dream: (z_t, a_t, (h, c)) → (mixture, done logit, (h', c')).

        Runs the LSTM's own cell, so stepping one step at a time gives exactly what the whole
        sequence gives.
        """
        h, c = self.remember(z, action, state)
        return self.head(h), self.done_head(h)[..., 0], (h, c)

    def remember(self, z, action, state):
        """The LSTM's cell alone: (z_t, a_t, (h, c)) → (h', c'), without the heads' predictions
        (all the agent needs, inside its own compiled step); float32 under any `precision`."""
        inputs = tf.concat([tf.cast(z, tf.float32), tf.cast(action, tf.float32)], axis=-1)
        h, (_, c) = self.lstm.cell(inputs, list(state))
        return as_float32(h, c)

    def predict_next(self, z, action, state, temperature: float, rng: np.random.Generator):
        """Sample z_{t+1} at a temperature: (z_t, a_t, state) → (z_{t+1}, P(done), state')."""
        mixture, done_logits, state = self.step(z, action, state)
        next_z = sample(*(part.numpy() for part in mixture), temperature, rng)
        return next_z.astype(np.float32), 1 / (1 + np.exp(-done_logits.numpy())), state


def build_mdnrnn(config, latent_size: int, action_size: int) -> MDNRNN:
    """A new, compiled MDN-RNN with the config's sizes, seed, optimiser and gradient clipping.

    Without XLA: on a GPU, Keras' LSTM runs cuDNN's kernel, which XLA cannot compile (Keras would
    turn XLA off with a warning); on a CPU, XLA made V's training slower (`vision.build_vae`).
    """
    model = MDNRNN(
        latent_size,
        action_size,
        config.hidden_units,
        config.mixtures,
        config.seed,
        config.done_weight,
        config.precision,
    )
    model(tf.zeros((1, 2, latent_size + action_size)))
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.gradient_clip),
        jit_compile=False,
    )
    return model


def load_sequences(latent_paths, episode_paths) -> list[dict[str, np.ndarray]]:
    """Every episode's μ, log σ², actions and rewards, with `done` marking the step that ended it.

    `done` is 1 only at the last step of an episode that ended by itself (not by the time limit).
    Held in memory: 1,000 steps take 274 kB, so even the paper's 10,000 episodes fit (2.7 GB).
    """
    sequences = []
    for latent_path, episode_path in zip(latent_paths, episode_paths, strict=True):
        arrays = load_latents(latent_path)
        episode = read_episode_arrays(episode_path, ["terminated", "rewards"])
        done = np.zeros(len(arrays["mean"]), np.float32)
        done[-1] = float(episode["terminated"])
        sequences.append({**arrays, "rewards": episode["rewards"], "done": done})
    return sequences


SEQUENCE_FIELDS = ("mean", "log_variance", "actions", "done")


def _window_batch(sequences, picks, starts, length: int):
    """Arrays (batch, length, ...) of the chosen windows, zero-padded, with a mask of real steps."""
    batch = {
        name: np.zeros((len(picks), length, *sequences[0][name].shape[1:]), np.float32)
        for name in SEQUENCE_FIELDS
    }
    mask = np.zeros((len(picks), length), np.float32)
    for row, (index, start) in enumerate(zip(picks, starts, strict=True)):
        stop = min(start + length, len(sequences[index]["mean"]))
        for name in SEQUENCE_FIELDS:
            batch[name][row, : stop - start] = sequences[index][name][start:stop]
        mask[row, : stop - start] = 1.0
    return tuple(batch[name] for name in SEQUENCE_FIELDS) + (mask,)


def _signature(sequences, length: int):
    return tuple(
        tf.TensorSpec((None, length, *sequences[0][name].shape[1:]), tf.float32)
        for name in SEQUENCE_FIELDS
    ) + (tf.TensorSpec((None, length), tf.float32),)


def training_batches(
    sequences, config, first_epoch: int, epochs: int, steps_per_epoch: int
) -> tf.data.Dataset:
    """Batches of random windows of `sequence_length + 1` steps, from `first_epoch` to `epochs`.

    Each batch draws episodes at random and a random start in each; windows longer than an
    episode are padded and masked, so episodes of any length can be used. Epoch e's batches come
    from a generator seeded with (seed, e), so a resumed training sees what an uninterrupted one
    would have.
    """
    length = config.sequence_length + 1

    def generate():
        for epoch in range(first_epoch, epochs):
            rng = np.random.default_rng([config.seed, epoch])
            for _ in range(steps_per_epoch):
                picks = rng.integers(len(sequences), size=config.batch_size)
                lengths = np.array([len(sequences[index]["mean"]) for index in picks])
                starts = rng.integers(np.maximum(lengths - length, 0) + 1)
                yield _window_batch(sequences, picks, starts, length)

    dataset = tf.data.Dataset.from_generator(
        generate, output_signature=_signature(sequences, length)
    )
    return dataset.prefetch(2)


def evaluation_batches(sequences, sequence_length: int, batch_size: int) -> tf.data.Dataset:
    """A finite dataset: the first `sequence_length + 1` steps of every episode, in order.

    Held in memory as tensors: Keras makes a new iterator over the validation data every epoch,
    and one over a Python generator stalled M's training 7–10 s in every second or third epoch
    (Take Cover at `small`: over a quarter of M's time; none in the same epochs from tensors).
    """
    count = len(sequences)
    windows = _window_batch(sequences, range(count), [0] * count, sequence_length + 1)
    return tf.data.Dataset.from_tensor_slices(windows).batch(batch_size)


class ActionError(WorldModelsError, ValueError):
    """Actions of the wrong shape for the dreams they are to drive."""


class DreamEnv(gym.Env):
    """The task as M imagines it, for `count` dreams at once (chapter 5).

    The observation is z, a (count, latent) array; `step` takes a (count, action size) array of
    actions as the controller outputs them, advances M one step and samples every next z from
    its mixture at `temperature`. A dream ends when M's done head gives the end of an episode
    more than even odds, or after `max_steps`. The reward is what `reward_head` (`wmlib.dream`)
    predicts from the new z and M's memory, or 0 without one (the paper's car model had no
    reward head). Decode z with V to see a dream. `memory`, an (h, c) state, lets a dream start
    from what M remembers of a real episode so far.
    """

    def __init__(
        self,
        mdnrnn: MDNRNN,
        initial_z,
        temperature=1.0,
        max_steps=1000,
        seed=None,
        memory=None,
        reward_head=None,
    ):
        self.mdnrnn, self.temperature, self.max_steps = mdnrnn, temperature, max_steps
        self.reward_head = reward_head
        self.initial_z = np.asarray(initial_z, np.float32)
        self.initial_memory = memory
        self._size_spaces(len(self.initial_z))
        self.rng = np.random.default_rng(seed)

    def _size_spaces(self, count: int) -> None:
        """The observation and action spaces of `count` dreams."""
        latent, actions = self.initial_z.shape[1], self.mdnrnn.action_size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (count, latent), np.float32)
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (count, actions), np.float32)

    def reset(self, *, seed=None, options=None):
        """Start every dream from its initial z and memory (empty unless one was given)."""
        super().reset(seed=seed)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.z, self.steps = self.initial_z.copy(), 0
        self.state = self.initial_memory or self.mdnrnn.initial_state(len(self.z))
        self._size_spaces(len(self.z))
        return self.z, {}

    def step(self, action):
        """Advance every dream by one step of M, taking one row of `action` per dream."""
        action = np.asarray(action, np.float32)
        if action.shape != self.action_space.shape:
            raise ActionError(
                f"DreamEnv.step takes one action per dream, an array of shape (count, action "
                f"size) = {self.action_space.shape}; it was given one of shape {action.shape}."
            )
        self.z, done, self.state = self.mdnrnn.predict_next(
            self.z, action, self.state, self.temperature, self.rng
        )
        self.steps += 1
        terminated = done > 0.5
        truncated = np.full(len(self.z), self.steps >= self.max_steps)
        return self.z, self.reward(), terminated, truncated, {}

    def keep(self, dreams: np.ndarray) -> np.ndarray:
        """Go on with the dreams a boolean mask picks, the others dropped (ended dreams need no
        more of M's steps); returns their z. `rng` is left as it was."""
        self.z = self.z[dreams]
        self.state = tuple(tf.boolean_mask(part, dreams) for part in self.state)
        self._size_spaces(len(self.z))
        return self.z

    def reward(self) -> np.ndarray:
        """Each dream's reward for the step just taken, from the new z and M's new memory h."""
        if self.reward_head is None:
            return np.zeros(len(self.z), np.float32)
        features = np.concatenate([self.z, np.asarray(self.state[0])], axis=-1)
        return np.asarray(self.reward_head(features))[:, 0]
