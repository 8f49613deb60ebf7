"""V: the paper's architecture, its loss against NumPy, the KL, sampling, saving and resuming."""

import dataclasses

import numpy as np
import pytest
from command_line import run_wmlib

from wmlib import artefacts, config, files, pipeline, training, vision
from wmlib.runtime import keras, tf

TINY = config.VisionConfig(batch_size=8, epochs=1, shuffle_buffer=64)


@pytest.fixture(scope="module")
def vae():
    keras.utils.set_random_seed(0)
    return vision.build_vae(TINY)


def test_parameter_counts_match_the_paper(vae):
    assert vae.encoder.count_params() == 755_744
    assert vae.decoder.count_params() == 3_592_803


def test_shapes_and_ranges(vae):
    frames = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    mean, log_variance = vision.encode(vae, frames)
    assert mean.shape == log_variance.shape == (5, 32) and mean.dtype == np.float32
    decoded = vision.decode(vae, mean)
    assert decoded.shape == (5, 64, 64, 3) and decoded.dtype == np.uint8
    reconstructions, _, _ = vae(vision.to_float(frames))
    assert (
        0.0 <= float(tf.reduce_min(reconstructions)) <= float(tf.reduce_max(reconstructions)) <= 1
    )


def test_loss_equals_numpy_reference():
    rng = np.random.default_rng(1)
    frames, reconstructions = rng.random((2, 4, 64, 64, 3), dtype=np.float32)
    mean = rng.normal(0, 2, (4, 32)).astype(np.float32)
    log_variance = rng.normal(0, 1, (4, 32)).astype(np.float32)
    mean[0], log_variance[0] = 0.01, 0.0  # a frame whose KL is below the floor
    reconstruction = ((frames - reconstructions) ** 2).sum(axis=(1, 2, 3))
    kl = 0.5 * (mean**2 + np.exp(log_variance) - log_variance - 1).sum(axis=1)
    assert kl[0] < 16 < kl[1:].min()
    expected = (reconstruction + np.maximum(kl, 16.0)).mean()
    total, reconstruction_term, kl_term = vision.vae_loss(
        frames, reconstructions, mean, log_variance, kl_floor=16.0
    )
    np.testing.assert_allclose(float(total), expected, rtol=1e-5)
    np.testing.assert_allclose(float(reconstruction_term), reconstruction.mean(), rtol=1e-5)
    np.testing.assert_allclose(float(kl_term), kl.mean(), rtol=1e-5)


def test_closed_form_kl_matches_monte_carlo():
    rng = np.random.default_rng(2)
    mean, log_variance = rng.normal(0, 1, 32), rng.normal(0, 0.5, 32)
    sigma = np.exp(0.5 * log_variance)
    z = mean + sigma * rng.standard_normal((200_000, 32))
    log_q = -0.5 * (((z - mean) / sigma) ** 2 + log_variance + np.log(2 * np.pi)).sum(axis=1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(axis=1)
    closed = float(vision.kl_divergence(mean[None], log_variance[None])[0])
    assert abs((log_q - log_p).mean() - closed) < 0.05 * closed


def test_kl_below_the_floor_gives_no_gradient():
    frames = tf.zeros((1, 64, 64, 3))
    for scale, expect_gradient in ((0.1, False), (10.0, True)):
        mean = tf.Variable(tf.fill((1, 32), scale))
        with tf.GradientTape() as tape:
            total, _, _ = vision.vae_loss(frames, frames, mean, tf.zeros((1, 32)), kl_floor=16.0)
        gradient = tape.gradient(total, mean)
        assert bool(tf.reduce_any(gradient != 0)) == expect_gradient


def test_sampling_passes_gradients_to_mean_and_log_variance():
    mean, log_variance = tf.Variable(tf.zeros((2, 32))), tf.Variable(tf.zeros((2, 32)))
    with tf.GradientTape() as tape:
        z = vision.Sampling()([mean, log_variance])
        objective = tf.reduce_sum(z**2)
    gradient_mean, gradient_log_variance = tape.gradient(objective, [mean, log_variance])
    np.testing.assert_allclose(gradient_mean.numpy(), 2 * z.numpy(), rtol=1e-5)
    assert float(tf.reduce_sum(tf.abs(gradient_log_variance))) > 0


def test_sampling_draws_the_same_noise_from_the_same_seed():
    mean, log_variance = tf.zeros((2, 32)), tf.zeros((2, 32))
    first, second = vision.Sampling(seed=3), vision.Sampling(seed=3)
    np.testing.assert_array_equal(
        first([mean, log_variance]).numpy(), second([mean, log_variance]).numpy()
    )


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never trained
def test_save_then_load_gives_identical_outputs(vae, tmp_path):
    path = tmp_path / "vae.keras"
    training.save_atomically(vae, path)
    loaded = keras.models.load_model(path)
    frames = np.random.default_rng(3).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    for original, reloaded in zip(
        vision.encode(vae, frames), vision.encode(loaded, frames), strict=True
    ):
        np.testing.assert_array_equal(original, reloaded)
    z = np.random.default_rng(4).normal(size=(3, 32)).astype(np.float32)
    np.testing.assert_array_equal(vision.decode(vae, z), vision.decode(loaded, z))


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never trained
def test_a_saved_v_keeps_where_its_sampling_noise_had_got_to(tmp_path):
    """Resuming draws the noise an uninterrupted training would have only if the sampling
    generator's state is saved with the model."""
    vae = vision.build_vae(TINY)
    for _ in range(3):
        vae(tf.zeros((1, 64, 64, 3)))
    training.save_atomically(vae, tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    np.testing.assert_array_equal(
        loaded.sampling.seed_generator.state.numpy(), vae.sampling.seed_generator.state.numpy()
    )


SMALL_DATA = ["--rollouts.episodes", "3", "--rollouts.max_steps", "20", "--vision.batch_size", "8"]
"""The ci profile on three 20-step episodes: V trains on 40 frames, five batches an epoch."""


def saved_weights(data, name: str) -> list[np.ndarray]:
    """The weights of the model `name` (vae or mdnrnn) that the ci profile saved under `data`."""
    path = data / "ci" / "carracing" / name / f"{name}.keras"
    return [weight.numpy() for weight in keras.models.load_model(path, compile=False).weights]


def test_a_resumed_v_trains_exactly_as_an_uninterrupted_one(tmp_path):
    """Two epochs straight, or one epoch and then a second run for two: the same weights.

    Each run is a fresh process, as after a crash, so nothing survives but the checkpoint."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    for epochs, data in (("2", straight), ("1", resumed), ("2", resumed)):
        run = run_wmlib("vae", "--profile", "ci", *SMALL_DATA, "--vision.epochs", epochs, data=data)
        assert run.returncode == 0, run.stderr[-3000:]
    for one, other in zip(
        saved_weights(straight, "vae"), saved_weights(resumed, "vae"), strict=True
    ):
        np.testing.assert_array_equal(one, other)


def test_vae_of_other_settings_is_refused(tiny_profile):
    profile = dataclasses.replace(tiny_profile, vision=TINY)
    pipeline.ensure_vae(profile, workers=1)
    changed = dataclasses.replace(profile, vision=dataclasses.replace(TINY, latent_size=16))
    with pytest.raises(artefacts.ArtefactMismatchError, match="changed: vision"):
        pipeline.ensure_vae(changed, workers=1)


def test_latents_cover_every_episode(tiny_profile):
    profile = dataclasses.replace(tiny_profile, vision=TINY)
    paths = pipeline.ensure_latents(profile, workers=1)
    assert len(paths) == profile.rollouts.episodes
    latents = files.load_latents(paths[0])
    assert latents["mean"].shape == (10, 32) and latents["actions"].shape == (10, 3)


FRAMES_IN_0_1 = np.linspace(0, 1, 4 * 64 * 64 * 3, dtype=np.float32).reshape(4, 64, 64, 3)
"""Frames already divided by 255, as a user might think V wants them."""


@pytest.mark.parametrize(
    "frames, given",
    [
        (FRAMES_IN_0_1, r"float32 frames of shape \(4, 64, 64, 3\) with values in \[0, 1\]"),
        (np.zeros((4, 96, 96, 3), np.uint8), r"uint8 frames of shape \(4, 96, 96, 3\)"),
        (np.zeros((64, 64, 3), np.uint8), r"uint8 frames of shape \(64, 64, 3\)"),
    ],
    ids=["floats in [0, 1]", "96x96", "one frame"],
)
def test_encode_refuses_frames_v_does_not_take(vae, frames, given):
    vision.encode(vae, np.zeros((2, 64, 64, 3), np.uint8))  # a first call traces the encoder
    expected = r"uint8 frames \(values 0–255\) of shape \(N, 64, 64, 3\), as task.preprocess"
    with pytest.raises(vision.FrameError, match=f"{expected}.*given {given}"):
        vision.encode(vae, frames)
