"""M: the MDN-RNN's shapes, its loss, stepping, saving, training and dreams."""

import dataclasses

import numpy as np
import pytest

from wmlib import config, memory, pipeline, training, vision
from wmlib.runtime import keras, tf

TINY = config.MemoryConfig(hidden_units=16, mixtures=3, sequence_length=6, batch_size=2)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return memory.build_mdnrnn(TINY)


def sequence_batch(rng, batch=2, steps=7, latent=32):
    mean = rng.normal(size=(batch, steps, latent)).astype(np.float32)
    log_variance = np.full_like(mean, -30.0)  # σ ≈ 0: z is the mean
    actions = rng.uniform(size=(batch, steps, 3)).astype(np.float32)
    done = np.zeros((batch, steps), np.float32)
    done[0, -1] = 1.0
    return mean, log_variance, actions, done, np.ones((batch, steps), np.float32)


def test_paper_sizes_give_the_expected_parameter_count():
    paper = memory.build_mdnrnn(config.get("paper").memory)
    lstm = 4 * (35 + 256 + 1) * 256
    head = 256 * 32 * 5 * 3 + 32 * 5 * 3
    assert paper.count_params() == lstm + head + 257


def test_mixture_is_per_latent_dimension(model):
    (logits, means, log_sigmas), done, (h, c) = model(tf.random.normal((2, 4, 35)))
    assert logits.shape == means.shape == log_sigmas.shape == (2, 4, 32, 3)
    assert done.shape == (2, 4) and h.shape == c.shape == (2, 16)
    weights = tf.nn.softmax(logits, axis=-1).numpy()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert not np.allclose(weights[..., 0, :], weights[..., 1, :])  # ctallec #33's shared weights


def test_loss_is_the_mixture_nll_plus_done_cross_entropy(model):
    mean, log_variance, actions, done, mask = sequence_batch(np.random.default_rng(1))
    total, nll, done_loss = model.loss_terms((mean, log_variance, actions, done, mask), False)
    inputs = np.concatenate([mean[:, :-1], actions[:, :-1]], axis=-1)
    mixture, done_logits, _ = model(inputs)
    expected_nll = memory.gmm_negative_log_likelihood(mean[:, 1:], *mixture)
    expected_done = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(done[:, 1:], done_logits)
    )
    np.testing.assert_allclose(float(nll), float(expected_nll), rtol=1e-5)
    np.testing.assert_allclose(float(done_loss), float(expected_done), rtol=1e-5)
    np.testing.assert_allclose(float(total), float(expected_nll + expected_done), rtol=1e-5)


def test_padded_steps_do_not_count(model):
    rng = np.random.default_rng(2)
    mean, log_variance, actions, done, mask = sequence_batch(rng)
    short = model.loss_terms(
        (mean[:, :4], log_variance[:, :4], actions[:, :4], done[:, :4], mask[:, :4]), False
    )
    mask[:, 4:] = 0.0
    mean[:, 4:] = 1e3  # garbage in the padding
    padded = model.loss_terms((mean, log_variance, actions, done, mask), False)
    np.testing.assert_allclose([float(v) for v in padded], [float(v) for v in short], rtol=1e-5)


def test_stepping_equals_the_whole_sequence(model):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 9, 32)).astype(np.float32)
    actions = rng.uniform(size=(2, 9, 3)).astype(np.float32)
    (logits, means, log_sigmas), done, (h, c) = model(np.concatenate([z, actions], axis=-1))
    state = model.initial_state(2)
    for t in range(9):
        (step_logits, step_means, _), step_done, state = model.step(z[:, t], actions[:, t], state)
        np.testing.assert_allclose(step_means.numpy(), means[:, t].numpy(), atol=1e-5)
        np.testing.assert_allclose(step_logits.numpy(), logits[:, t].numpy(), atol=1e-5)
        np.testing.assert_allclose(step_done.numpy(), done[:, t].numpy(), atol=1e-5)
    np.testing.assert_allclose(state[0].numpy(), h.numpy(), atol=1e-5)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never trained
def test_save_and_load_round_trip(model, tmp_path):
    training.save_atomically(model, tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    inputs = tf.random.normal((1, 5, 35))
    np.testing.assert_allclose(loaded(inputs)[0][1].numpy(), model(inputs)[0][1].numpy(), atol=1e-6)


def test_training_windows_cover_short_episodes_with_a_mask():
    rng = np.random.default_rng(4)
    sequences = [
        {
            "mean": rng.normal(size=(n, 32)).astype(np.float32),
            "log_variance": np.zeros((n, 32), np.float32),
            "actions": np.zeros((n, 3), np.float32),
            "done": np.eye(1, n, n - 1, dtype=np.float32)[0],
        }
        for n in (4, 20)
    ]
    batch = next(iter(memory.training_batches(sequences, 9, 8, seed=0)))
    mean, _, _, done, mask = (part.numpy() for part in batch)
    assert mean.shape == (8, 10, 32) and mask.shape == (8, 10)
    assert set(mask.sum(axis=1)) <= {4.0, 10.0}
    assert np.all(mean[mask == 0] == 0) and np.all(done <= mask)


def test_dream_environment_steps_every_dream(model):
    initial = np.random.default_rng(5).normal(size=(3, 32)).astype(np.float32)
    dream = memory.DreamEnv(model, initial, temperature=0.5, max_steps=2, seed=0)
    z, _ = dream.reset()
    np.testing.assert_array_equal(z, initial)
    z, reward, terminated, truncated, _ = dream.step(dream.action_space.sample())
    assert z.shape == (3, 32) and reward.shape == terminated.shape == (3,)
    assert not truncated.any()
    assert dream.step(dream.action_space.sample())[3].all()


def test_ensure_mdnrnn_trains_once_and_refuses_other_settings(tiny_profile):
    profile = dataclasses.replace(
        tiny_profile,
        vision=config.VisionConfig(batch_size=8, epochs=1, shuffle_buffer=64),
        memory=dataclasses.replace(TINY, training_steps=2),
    )
    first = pipeline.ensure_mdnrnn(profile, workers=1)
    manifest = pipeline.read_manifest(pipeline.mdnrnn_dir(profile))
    assert manifest["complete"] and manifest["summary"]["training_episodes"] == 2
    again = pipeline.ensure_mdnrnn(profile, workers=1)
    assert first.count_params() == again.count_params()
    changed = dataclasses.replace(profile, memory=dataclasses.replace(TINY, mixtures=2))
    with pytest.raises(pipeline.ArtefactMismatchError, match="changed: memory"):
        pipeline.ensure_mdnrnn(changed, workers=1)
    assert vision.load_latents(pipeline.ensure_latents(profile)[0])["mean"].shape[1] == 32


def test_predict_next_at_low_temperature_gives_the_likeliest_mean(model):
    rng = np.random.default_rng(6)
    z = rng.normal(size=(2, 32)).astype(np.float32)
    action = np.zeros((2, 3), np.float32)
    (logits, means, _), _, _ = model.step(z, action, model.initial_state(2))
    likeliest = np.take_along_axis(
        means.numpy(), logits.numpy().argmax(axis=-1)[..., None], axis=-1
    )[..., 0]
    next_z, done, state = model.predict_next(z, action, model.initial_state(2), 1e-6, rng)
    np.testing.assert_allclose(next_z, likeliest, atol=1e-2)
    assert done.shape == (2,) and np.all((done > 0) & (done < 1)) and state[0].shape == (2, 16)
