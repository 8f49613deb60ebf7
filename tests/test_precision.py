"""V and M under `precision`: float32 as before by default; in bfloat16 a body that computes in
bfloat16 with float32 weights and float32 heads, close to float32, saved with its precision."""

import dataclasses

import numpy as np
import pytest

from wmlib import config, memory, pipeline, training, vision
from wmlib.runtime import tf

MEMORY = config.MemoryConfig(hidden_units=16, mixtures=3)


def build_pair(build):
    """The same model in float32 and in bfloat16, with the same weights."""
    single, half = build(None), build("bfloat16")
    half.set_weights(single.get_weights())
    return single, half


def compute_dtypes(model) -> set[str]:
    """The compute dtypes of every layer in the model that holds weights."""
    return {layer.compute_dtype for layer in model._flatten_layers() if layer.weights}


def test_float32_is_the_default_and_every_layer_computes_in_it():
    vae = vision.build_vae(config.VisionConfig())
    mdnrnn = memory.build_mdnrnn(MEMORY, 32, 3)
    assert compute_dtypes(vae) == compute_dtypes(mdnrnn) == {"float32"}


def test_in_bfloat16_the_body_computes_in_it_and_weights_and_heads_stay_float32():
    vae = vision.build_vae(config.VisionConfig(precision="bfloat16"))
    mdnrnn = memory.build_mdnrnn(dataclasses.replace(MEMORY, precision="bfloat16"), 32, 3)
    for model in (vae, mdnrnn):
        assert compute_dtypes(model) == {"float32", "bfloat16"}
        assert {weight.dtype for weight in model.weights} == {"float32"}
    for head in (vae.encoder.get_layer("mean"), vae.decoder.get_layer("frames"), mdnrnn.head):
        assert head.compute_dtype == "float32"
    reconstructions, mean, log_variance = vae(tf.zeros((2, 64, 64, 3)))
    mixture, done, state = mdnrnn(tf.zeros((2, 5, 35)))
    outputs = (reconstructions, mean, log_variance, *mixture, done)
    assert {output.dtype for output in outputs} == {tf.float32}
    h, c = mdnrnn.remember(tf.zeros((2, 32)), tf.zeros((2, 3)), mdnrnn.initial_state(2))
    assert h.dtype == c.dtype == tf.float32


def test_v_in_bfloat16_computes_what_float32_does_to_bfloat16_precision():
    single, half = build_pair(
        lambda precision: vision.build_vae(config.VisionConfig(precision=precision))
    )
    frames = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    for single_part, half_part in zip(
        vision.encode(single, frames), vision.encode(half, frames), strict=True
    ):
        scale = np.abs(single_part).max()
        assert 0 < np.abs(half_part - single_part).max() < 0.05 * scale


def test_m_in_bfloat16_computes_what_float32_does_to_bfloat16_precision():
    single, half = build_pair(
        lambda precision: memory.build_mdnrnn(
            dataclasses.replace(MEMORY, precision=precision), 32, 3
        )
    )
    inputs = tf.random.stateless_normal((2, 50, 35), seed=(1, 2))
    single_outputs, half_outputs = single(inputs), half(inputs)
    for single_part, half_part in zip(
        tf.nest.flatten(single_outputs), tf.nest.flatten(half_outputs), strict=True
    ):
        scale = np.abs(single_part).max()
        assert 0 < np.abs(half_part - single_part).max() < 0.05 * scale


@pytest.mark.parametrize("build", ["vae", "mdnrnn"])
def test_a_saved_model_keeps_its_precision(build, tmp_path):
    if build == "vae":
        model = vision.build_vae(config.VisionConfig(precision="bfloat16"))
    else:
        model = memory.build_mdnrnn(dataclasses.replace(MEMORY, precision="bfloat16"), 32, 3)
    training.save_atomically(model, tmp_path / "model.keras")
    loaded = training.load_model(tmp_path / "model.keras", compile=False)
    assert loaded.precision == "bfloat16"
    assert compute_dtypes(loaded) == compute_dtypes(model)


@pytest.mark.parametrize("model", ["vision", "memory"])
def test_a_precision_that_is_not_one_is_named_with_the_choices(model):
    profile = config.get("ci")
    section = dataclasses.replace(getattr(profile, model), precision="float16")
    with pytest.raises(config.ProfileError, match=rf"{model}\.precision is 'float16'.*'bfloat16'"):
        dataclasses.replace(profile, **{model: section})


def test_trained_in_bfloat16_v_and_m_are_saved_to_compute_in_float32(tiny_profile):
    profile = dataclasses.replace(
        tiny_profile,
        vision=dataclasses.replace(tiny_profile.vision, batch_size=4, precision="bfloat16"),
        memory=dataclasses.replace(tiny_profile.memory, precision="bfloat16", training_steps=2),
    )
    vae, mdnrnn = pipeline.ensure_vae(profile, workers=1), pipeline.ensure_mdnrnn(profile)
    for model, folder in ((vae, pipeline.vae_dir(profile)), (mdnrnn, pipeline.mdnrnn_dir(profile))):
        assert model.precision is None and compute_dtypes(model) == {"float32"}
        checkpoint = training.load_model(folder / "checkpoint.keras")
        assert checkpoint.precision == "bfloat16"
        for saved, trained in zip(model.get_weights(), checkpoint.get_weights(), strict=True):
            np.testing.assert_array_equal(saved, trained)
