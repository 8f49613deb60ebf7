"""Mixture density networks: the likelihood against SciPy, its stability, the head, sampling."""

import numpy as np
import pytest
from scipy import stats

from wmlib import mixture, toy_data
from wmlib.runtime import keras, tf


def random_mixture(rng, shape, mixtures):
    logits = rng.normal(0, 2, (*shape, mixtures))
    means = rng.normal(0, 1, (*shape, mixtures))
    log_sigmas = rng.normal(-0.5, 0.5, (*shape, mixtures))
    return logits, means, log_sigmas


@pytest.mark.parametrize("seed", range(5))
def test_log_likelihood_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    logits, means, log_sigmas = random_mixture(rng, (4, 3), 5)
    target = rng.normal(0, 1.5, (4, 3))
    weights = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    densities = stats.norm.pdf(target[..., None], means, np.exp(log_sigmas))
    expected = np.log((weights * densities).sum(axis=-1))
    ours = mixture.gmm_log_likelihood(target, logits, means, log_sigmas).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("log_sigma", "target", "logit"),
    [(-50.0, 0.5, 0.0), (-8.0, 1e4, 0.0), (0.0, 1e6, 0.0), (0.0, 0.0, 50.0), (3.0, 2.0, -50.0)],
)
def test_likelihood_and_gradients_stay_finite(log_sigma, target, logit):
    logits = tf.Variable([[logit, -logit, 0.0]])
    means = tf.Variable([[0.0, 1.0, -1.0]])
    log_sigmas = tf.Variable([[log_sigma, log_sigma, 0.0]])
    with tf.GradientTape() as tape:
        loss = mixture.gmm_negative_log_likelihood(
            tf.constant([target], tf.float32), logits, means, log_sigmas
        )
    assert np.isfinite(loss.numpy())
    for gradient in tape.gradient(loss, [logits, means, log_sigmas]):
        assert np.all(np.isfinite(gradient.numpy()))


def test_narrow_components_are_not_floored_at_one():
    """Regression: `exp(max(log_sigma, 1e-8))` made every σ at least 1."""
    narrow = mixture.gmm_log_likelihood(
        tf.constant([0.0]), tf.zeros((1, 1)), tf.zeros((1, 1)), tf.fill((1, 1), -3.0)
    )
    np.testing.assert_allclose(narrow.numpy(), stats.norm.logpdf(0.0, 0.0, np.exp(-3.0)), rtol=1e-6)


def test_head_softmax_is_per_dimension_over_mixtures():
    head = mixture.MixtureDensityHead(output_size=4, mixtures=5)
    logits, means, log_sigmas = head(tf.random.normal((2, 7, 16)))
    assert logits.shape == means.shape == log_sigmas.shape == (2, 7, 4, 5)
    weights = tf.nn.softmax(logits, axis=-1).numpy()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    assert not np.allclose(
        weights[..., 0, :], weights[..., 1, :]
    )  # no weights shared across dimensions


def test_sampling_at_low_temperature_picks_the_likeliest_mean():
    rng = np.random.default_rng(0)
    logits = np.array([[[0.0, 1.0, 0.5]]])
    means = np.array([[[-3.0, 2.0, 5.0]]])
    log_sigmas = np.zeros((1, 1, 3))
    draws = mixture.sample(logits, means, log_sigmas, 1e-4, rng)
    np.testing.assert_allclose(draws, [[2.0]], atol=0.05)


def test_sampling_at_temperature_one_follows_the_mixture():
    rng = np.random.default_rng(1)
    logits = np.log(np.array([0.25, 0.75]))[None, :].repeat(20_000, axis=0)[:, None, :]
    means = np.array([-5.0, 5.0])[None, None, :].repeat(20_000, axis=0)
    draws = mixture.sample(logits, means, np.full_like(means, -2.0), 1.0, rng)
    assert abs((draws > 0).mean() - 0.75) < 0.02
    assert abs(draws[draws > 0].std() - np.exp(-2.0)) < 0.01


def test_mixture_density_model_learns_by_fit():
    keras.utils.set_random_seed(0)
    x, t = toy_data.inverted_sine(500, np.random.default_rng(0))
    inputs = keras.Input((1,))
    features = keras.layers.Dense(16, activation="tanh")(inputs)
    model = mixture.MixtureDensityModel(
        keras.Model(inputs, mixture.MixtureDensityHead(1, 3)(features))
    )
    model.compile(keras.optimizers.Adam(0.01))
    history = model.fit(x, t, batch_size=100, epochs=30, verbose=0).history["nll"]
    assert history[-1] < history[0] - 0.5
    assert model.evaluate(x, t, batch_size=500, verbose=0) == pytest.approx(
        float(mixture.gmm_negative_log_likelihood(t, *model(x))), rel=1e-4
    )
