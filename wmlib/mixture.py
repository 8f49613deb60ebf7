"""Mixture density networks (chapter 3), the head of M.

A mixture density network (MDN) predicts a whole distribution for a target instead of one
value: for each output dimension, K Gaussians with mixing weights π (a softmax over the K
components of *that* dimension), means μ and standard deviations σ. It is trained by the
negative log-likelihood of the target under that mixture, computed with log-sum-exp so that
it stays finite when a component is very narrow or the target is far from every mean.
"""

import math

import numpy as np

from wmlib import training
from wmlib.runtime import keras, tf

LOG_SIGMA_RANGE = (-10.0, 10.0)
"""log σ is clipped to this range inside the likelihood, only to keep its square finite in
float32: σ from 4.5e-5 to 22,026, far wider than the spread of any z. (It is not the old bug
`exp(max(log σ, 1e-8))`, which made every σ at least 1.)"""


def gmm_log_likelihood(target, logits, means, log_sigmas):
    """log p(target) under a mixture of K univariate Gaussians, for every target value.

    `target` has shape (..., D); `logits`, `means` and `log_sigmas` have shape (..., D, K), so
    every one of the D dimensions has its own K components and its own mixing weights
    π = softmax(logits) over the last axis. Returns shape (..., D).

        log p(y) = log Σ_k π_k N(y; μ_k, σ_k²) = logsumexp_k [log π_k + log N(y; μ_k, σ_k²)]
    """
    log_sigmas = tf.clip_by_value(log_sigmas, *LOG_SIGMA_RANGE)
    log_pi = logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
    standardised = (target[..., None] - means) * tf.exp(-log_sigmas)
    log_normal = -0.5 * tf.square(standardised) - log_sigmas - 0.5 * math.log(2 * math.pi)
    return tf.reduce_logsumexp(log_pi + log_normal, axis=-1)


def gmm_negative_log_likelihood(target, logits, means, log_sigmas):
    """The MDN loss: the mean over every target value of −log p(target), in nats."""
    return -tf.reduce_mean(gmm_log_likelihood(target, logits, means, log_sigmas))


class MixtureDensityHead(keras.layers.Layer):
    """Features → (logits, means, log σ), each (..., output_size, mixtures).

    One dense layer produces 3·K numbers for each of the output dimensions; they are split into
    the K mixing logits, K means and K log standard deviations of that dimension.
    """

    def __init__(self, output_size: int, mixtures: int, **kwargs):
        super().__init__(**kwargs)
        self.output_size, self.mixtures = output_size, mixtures
        self.dense = keras.layers.Dense(output_size * mixtures * 3, dtype=self.dtype_policy)

    def call(self, features):
        parameters = self.dense(features)
        shape = tf.concat([tf.shape(parameters)[:-1], [self.output_size, 3 * self.mixtures]], 0)
        logits, means, log_sigmas = tf.split(tf.reshape(parameters, shape), 3, axis=-1)
        return logits, means, log_sigmas

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "mixtures": self.mixtures}


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """A numerically stable softmax in NumPy."""
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sample(logits, means, log_sigmas, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Draw one value per dimension from the mixture, at a temperature τ (the paper's recipe).

    The mixing logits are divided by τ (τ < 1 favours the likeliest component, τ > 1 evens them
    out) and the chosen Gaussian's noise is scaled by √τ. As τ → 0 the sample tends to the mean
    of the most likely component. Shapes as in `gmm_log_likelihood`; returns (..., D).
    """
    logits, means, log_sigmas = (
        np.asarray(array, dtype=np.float64) for array in (logits, means, log_sigmas)
    )
    probabilities = softmax(logits / temperature)
    uniform = rng.random(probabilities.shape[:-1] + (1,))
    chosen = np.minimum(
        (probabilities.cumsum(axis=-1) < uniform).sum(axis=-1), logits.shape[-1] - 1
    )
    mean = np.take_along_axis(means, chosen[..., None], axis=-1)[..., 0]
    sigma = np.exp(np.take_along_axis(log_sigmas, chosen[..., None], axis=-1)[..., 0])
    return mean + sigma * math.sqrt(temperature) * rng.standard_normal(mean.shape)


class MixtureDensityModel(training.LossTermsModel):
    """Any network that ends in a `MixtureDensityHead`, trained by `fit` on the mixture NLL.

    `network` maps inputs to (logits, means, log σ); the targets passed to `fit` are the
    values whose likelihood is maximised.
    """

    def __init__(self, network: keras.Model, **kwargs):
        super().__init__(("nll",), **kwargs)
        self.network = network

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def loss_terms(self, batch, training: bool):
        """(NLL,) of the targets under the predicted mixtures."""
        inputs, targets = batch
        return (gmm_negative_log_likelihood(targets, *self(inputs, training=training)),)
