"""M: the LSTM against Keras', the MDN-RNN's shapes, loss, stepping, saving, training, dreams."""

import dataclasses

import numpy as np
import pytest
from command_line import run_wmlib

from wmlib import artefacts, config, files, memory, mixture, pipeline, training, vision
from wmlib.lstm import run_lstm
from wmlib.runtime import keras, tf

TINY = config.MemoryConfig(hidden_units=16, mixtures=3, sequence_length=6, batch_size=2)
SEQUENCE = ("mean", "log_variance", "actions")


def test_hand_written_lstm_equals_keras():
    rng = np.random.default_rng(2)
    cell = keras.layers.LSTMCell(6)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    inputs = rng.normal(size=(3, 9, 4)).astype(np.float32)
    keras_h, _, keras_c = layer(inputs)
    for weight in cell.weights:  # Keras starts the forget bias at 1; make every weight random
        weight.assign(rng.normal(0, 0.5, weight.shape))
    keras_sequence, keras_h, keras_c = layer(inputs)
    trace = run_lstm(inputs, *[weight.numpy() for weight in cell.weights])
    np.testing.assert_allclose(trace["h"], keras_sequence.numpy(), atol=1e-5)
    np.testing.assert_allclose(trace["c"][:, -1], keras_c.numpy(), atol=1e-5)
    assert set(trace) == {"h", "c", "input", "forget", "candidate", "output"}


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return memory.build_mdnrnn(TINY, 32, 3)


def sequence_batch(rng, batch=2, steps=7, latent=32):
    mean = rng.normal(size=(batch, steps, latent)).astype(np.float32)
    log_variance = np.full_like(mean, -30.0)  # σ ≈ 0: z is the mean
    actions = rng.uniform(size=(batch, steps, 3)).astype(np.float32)
    done = np.zeros((batch, steps), np.float32)
    done[0, -1] = 1.0
    return mean, log_variance, actions, done, np.ones((batch, steps), np.float32)


def test_paper_sizes_give_the_expected_parameter_count():
    paper = memory.build_mdnrnn(config.get("paper").memory, 32, 3)
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
    mixture_parameters, done_logits, _ = model(inputs)
    expected_nll = mixture.gmm_negative_log_likelihood(mean[:, 1:], *mixture_parameters)
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


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # never trained
def test_a_saved_m_keeps_where_its_noise_had_got_to(tmp_path):
    """Resuming draws the z an uninterrupted training would have only if the noise generator's
    state is saved with the model."""
    model = memory.build_mdnrnn(TINY, 32, 3)
    for _ in range(3):
        model.loss_terms(sequence_batch(np.random.default_rng(0)), training=False)
    training.save_atomically(model, tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        loaded.seed_generator.state.numpy(), model.seed_generator.state.numpy()
    )


def random_sequences(rng, lengths):
    """Encoded episodes of the given lengths, each ending by itself."""
    return [
        {
            "mean": rng.normal(size=(n, 32)).astype(np.float32),
            "log_variance": np.zeros((n, 32), np.float32),
            "actions": np.zeros((n, 3), np.float32),
            "done": np.eye(1, n, n - 1, dtype=np.float32)[0],
        }
        for n in lengths
    ]


def test_training_windows_cover_short_episodes_with_a_mask():
    sequences = random_sequences(np.random.default_rng(4), (4, 20))
    settings = dataclasses.replace(TINY, sequence_length=9, batch_size=8)
    batches = memory.training_batches(sequences, settings, 0, epochs=1, steps_per_epoch=1)
    mean, _, _, done, mask = (part.numpy() for part in next(iter(batches)))
    assert mean.shape == (8, 10, 32) and mask.shape == (8, 10)
    assert set(mask.sum(axis=1)) <= {4.0, 10.0}
    assert np.all(mean[mask == 0] == 0) and np.all(done <= mask)


def test_each_epochs_windows_do_not_depend_on_where_training_started():
    sequences = random_sequences(np.random.default_rng(5), (15, 20))
    settings = dataclasses.replace(TINY, sequence_length=4, batch_size=3)

    def windows(first_epoch):
        batches = memory.training_batches(sequences, settings, first_epoch, 2, steps_per_epoch=2)
        return [part.numpy() for batch in batches for part in batch]

    from_the_start, from_epoch_one = windows(0), windows(1)
    assert len(from_the_start) == 2 * len(from_epoch_one)
    for one, other in zip(from_the_start[len(from_epoch_one) :], from_epoch_one, strict=True):
        np.testing.assert_array_equal(one, other)


# Dreams: M run forward on its own.


def test_dream_environment_steps_every_dream(model):
    initial = np.random.default_rng(5).normal(size=(3, 32)).astype(np.float32)
    dream = memory.DreamEnv(model, initial, temperature=0.5, max_steps=2, seed=0)
    z, _ = dream.reset()
    np.testing.assert_array_equal(z, initial)
    z, reward, terminated, truncated, _ = dream.step(dream.action_space.sample())
    assert z.shape == (3, 32) and reward.shape == terminated.shape == (3,)
    assert not truncated.any()
    assert dream.step(dream.action_space.sample())[3].all()


def test_dream_actions_are_ms_actions_unbounded(model):
    dream = memory.DreamEnv(model, np.zeros((2, 32), np.float32))
    assert dream.action_space.shape == (2, 3)
    assert np.all(np.isinf(dream.action_space.low)) and np.all(np.isinf(dream.action_space.high))


def test_kept_dreams_go_on_alone_and_a_reset_brings_every_dream_back(model):
    initial = np.random.default_rng(8).normal(size=(3, 32)).astype(np.float32)
    dream = memory.DreamEnv(model, initial, seed=0)
    dream.reset()
    dream.step(np.zeros((3, 3), np.float32))
    kept = dream.keep(np.array([True, False, True]))
    assert kept.shape == (2, 32) and dream.state[0].shape[0] == 2
    assert dream.observation_space.shape == (2, 32) and dream.action_space.shape == (2, 3)
    z, _ = dream.reset()
    np.testing.assert_array_equal(z, initial)
    assert dream.observation_space.shape == (3, 32) and dream.action_space.shape == (3, 3)


def test_a_dream_ends_when_m_gives_the_end_more_than_even_odds(tmp_path):
    certain_end = memory.build_mdnrnn(TINY, 32, 3)
    certain_end.done_head.bias.assign([10.0])  # P(done) = σ(10 + …) ≈ 1 whatever h is
    certain_end.done_head.kernel.assign(np.zeros(certain_end.done_head.kernel.shape))
    dream = memory.DreamEnv(certain_end, np.zeros((2, 32), np.float32), max_steps=100, seed=0)
    dream.reset()
    _, _, terminated, truncated, _ = dream.step(np.zeros((2, 3), np.float32))
    assert terminated.all() and not truncated.any()


def test_a_dream_that_m_never_ends_is_truncated_at_max_steps():
    never_ends = memory.build_mdnrnn(TINY, 32, 3)
    never_ends.done_head.bias.assign([-10.0])
    never_ends.done_head.kernel.assign(np.zeros(never_ends.done_head.kernel.shape))
    dream = memory.DreamEnv(never_ends, np.zeros((2, 32), np.float32), max_steps=3, seed=0)
    dream.reset()
    flags = [dream.step(np.zeros((2, 3), np.float32))[2:4] for _ in range(3)]
    assert not any(terminated.any() for terminated, _ in flags)
    assert [bool(truncated.all()) for _, truncated in flags] == [False, False, True]


def test_a_dream_starts_from_the_memory_it_is_given(model):
    initial = np.random.default_rng(6).normal(size=(2, 32)).astype(np.float32)
    rng = np.random.default_rng(7)
    remembered = tuple(tf.constant(rng.normal(size=(2, 16)), tf.float32) for _ in range(2))
    action = np.zeros((2, 3), np.float32)

    def first_step(memory_state):
        dream = memory.DreamEnv(model, initial, temperature=1e-6, seed=0, memory=memory_state)
        dream.reset()
        return dream.step(action)[0], dream.state[0].numpy()

    from_zeros, from_memory = first_step(None), first_step(remembered)
    _, _, expected = model.step(initial, action, remembered)
    np.testing.assert_allclose(from_memory[1], expected[0].numpy(), atol=1e-6)
    assert not np.allclose(from_memory[0], from_zeros[0])


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


# M's stage of the pipeline.


def test_ensure_mdnrnn_trains_once_and_refuses_other_settings(tiny_profile):
    profile = dataclasses.replace(
        tiny_profile,
        vision=config.VisionConfig(batch_size=8, epochs=1, shuffle_buffer=64),
        memory=dataclasses.replace(TINY, training_steps=2),
    )
    pipeline.ensure_mdnrnn(profile, workers=1)
    manifest = pipeline.read_manifest(pipeline.mdnrnn_dir(profile))
    assert manifest["complete"] and manifest["summary"]["training_episodes"] == 2
    saved = pipeline.mdnrnn_dir(profile) / "mdnrnn.keras"
    built_at = saved.stat().st_mtime_ns
    pipeline.ensure_mdnrnn(profile, workers=1)
    assert saved.stat().st_mtime_ns == built_at  # loaded, not trained again
    changed = dataclasses.replace(profile, memory=dataclasses.replace(TINY, mixtures=2))
    with pytest.raises(artefacts.ArtefactMismatchError, match="changed: memory"):
        pipeline.ensure_mdnrnn(changed, workers=1)
    assert files.load_latents(pipeline.ensure_latents(profile)[0])["mean"].shape[1] == 32


SMALL_DATA = ["--rollouts.episodes", "3", "--rollouts.max_steps", "20", "--vision.batch_size", "8"]
"""The ci profile on three 20-step episodes: M's 40 training steps of data make one batch of
4 × 101-step windows, so every epoch is one gradient step and training_steps counts epochs."""


def saved_weights(data, name: str) -> list[np.ndarray]:
    """The weights of the model `name` (vae or mdnrnn) that the ci profile saved under `data`."""
    path = data / "ci" / "carracing" / name / f"{name}.keras"
    model = keras.models.load_model(path, compile=False)
    assert isinstance(model, vision.ConvVAE | memory.MDNRNN)
    return [weight.numpy() for weight in model.weights]


def test_a_resumed_m_trains_exactly_as_an_uninterrupted_one(tmp_path):
    """Two steps straight, or one step and then a second run for two: the same weights.

    Each run is a fresh process, as after a crash, so nothing survives but the checkpoint."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    for steps, data in (("2", straight), ("1", resumed), ("2", resumed)):
        run = run_wmlib(
            "mdnrnn", "--profile", "ci", *SMALL_DATA, "--memory.training_steps", steps, data=data
        )
        assert run.returncode == 0, run.stderr[-3000:]
    summary = pipeline.read_manifest(resumed / "ci" / "carracing" / "mdnrnn")["summary"]
    assert summary["steps_per_epoch"] == 1
    for name in ("vae", "mdnrnn"):  # the same V, so the same data; then the same M
        for one, other in zip(
            saved_weights(straight, name), saved_weights(resumed, name), strict=True
        ):
            np.testing.assert_array_equal(one, other, err_msg=name)


def test_a_dream_refuses_an_action_of_the_wrong_shape(model):
    dream = memory.DreamEnv(model, np.zeros((1, 32), np.float32))
    dream.reset()
    with pytest.raises(memory.ActionError, match=r"\(count, action size\) = \(1, 3\).*\(3,\)"):
        dream.step(np.zeros(3, np.float32))


def test_evaluation_batches_hold_the_start_of_every_episode_in_order_padded_and_masked():
    rng = np.random.default_rng(4)
    sequences = []
    for steps in (9, 4, 12):
        sequence = {name: rng.normal(size=(steps, 2)).astype(np.float32) for name in SEQUENCE}
        sequences.append({**sequence, "done": np.zeros(steps, np.float32)})
    batches = list(memory.evaluation_batches(sequences, sequence_length=7, batch_size=2))
    assert [len(batch[0]) for batch in batches] == [2, 1]
    means = np.concatenate([batch[0] for batch in batches])
    masks = np.concatenate([batch[-1] for batch in batches])
    np.testing.assert_array_equal(means[0], sequences[0]["mean"][:8])
    np.testing.assert_array_equal(means[1, :4], sequences[1]["mean"])
    np.testing.assert_array_equal(means[1, 4:], 0.0)
    np.testing.assert_array_equal(masks.sum(axis=1), [8, 4, 8])
