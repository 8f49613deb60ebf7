"""The export of V and M for the web book's browser (`wmlib.browser`): compact, complete, and
decoding what Keras decodes."""

import base64
import json

import numpy as np
import pytest

from wmlib import browser


@pytest.fixture(scope="module")
def decoder():
    from wmlib import vision
    from wmlib.runtime import keras

    keras.utils.set_random_seed(0)
    return vision.build_decoder(32)


def test_packed_arrays_are_float16_and_round_trip():
    values = np.random.default_rng(0).normal(0, 3, (4, 5)).astype(np.float32)
    packed = browser.packed(values)
    assert packed["shape"] == [4, 5]
    assert len(base64.b64decode(packed["data"])) == 2 * values.size
    back = browser.unpacked(packed)
    assert back.dtype == np.float32 and back.shape == values.shape
    np.testing.assert_allclose(back, values, rtol=2**-11)
    assert not np.array_equal(back, values)  # float16, not a copy of the float32 values


def test_decoder_weights_fold_the_dense_layer_into_the_first_transposed_convolution(decoder):
    weights = browser.decoder_weights(decoder)
    assert weights["dense"]["kernel"]["shape"] == [32, 5 * 5 * 128]
    assert weights["dense"]["bias"]["shape"] == [5 * 5 * 128]
    assert weights["start_shape"] == [5, 5, 128]
    layers = [
        (layer["kernel"]["shape"], layer["bias"]["shape"], layer["stride"], layer["activation"])
        for layer in weights["transposed"]
    ]
    assert layers == [
        ([5, 5, 128, 64], [64], 2, "relu"),
        ([6, 6, 64, 32], [32], 2, "relu"),
        ([6, 6, 32, 3], [3], 2, "sigmoid"),
    ]
    numbers = sum(np.prod(part["shape"]) for part in json_arrays(weights))
    assert numbers < 0.11 * decoder.count_params()


def json_arrays(tree):
    """Every packed array in a tree of dicts and lists."""
    if isinstance(tree, dict) and "data" in tree:
        return [tree]
    children = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else []
    return [array for child in children for array in json_arrays(child)]


def numpy_decode(weights: dict, z: np.ndarray) -> np.ndarray:
    """What the browser's decoder computes from `browser.decoder_weights`, in NumPy: float frames
    (N, 64, 64, 3) in [0, 1]."""
    x = np.maximum(
        z @ browser.unpacked(weights["dense"]["kernel"])
        + browser.unpacked(weights["dense"]["bias"]),
        0,
    )
    x = x.reshape(len(z), *weights["start_shape"])
    for layer in weights["transposed"]:
        kernel, bias = browser.unpacked(layer["kernel"]), browser.unpacked(layer["bias"])
        height, width, _, outputs = kernel.shape
        stride = layer["stride"]
        grown = np.zeros(
            (len(z), (x.shape[1] - 1) * stride + height, (x.shape[2] - 1) * stride + width, outputs)
        )
        for row in range(height):
            for column in range(width):
                grown[
                    :,
                    row : row + stride * x.shape[1] : stride,
                    column : column + stride * x.shape[2] : stride,
                ] += x @ kernel[row, column]
        grown += bias
        x = np.maximum(grown, 0) if layer["activation"] == "relu" else 1 / (1 + np.exp(-grown))
    return x


def test_the_exported_decoder_decodes_what_keras_decodes(decoder):
    z = np.random.default_rng(1).standard_normal((6, 32)).astype(np.float32)
    exported = numpy_decode(browser.decoder_weights(decoder), z)
    keras_frames = np.asarray(decoder(z))
    assert exported.shape == keras_frames.shape == (6, 64, 64, 3)
    assert np.abs(exported - keras_frames).max() < 1e-3


def test_memory_weights_hold_the_cell_and_both_heads():
    from wmlib import config, memory

    mdnrnn = memory.build_mdnrnn(config.MemoryConfig(hidden_units=8, mixtures=2), 32, 3)
    weights = browser.memory_weights(mdnrnn)
    shapes = {
        name: {part: weights[name][part]["shape"] for part in weights[name]}
        for name in ("lstm", "head", "done")
    }
    assert shapes == {
        "lstm": {"kernel": [35, 32], "recurrent_kernel": [8, 32], "bias": [32]},
        "head": {"kernel": [8, 32 * 2 * 3], "bias": [32 * 2 * 3]},
        "done": {"kernel": [8, 1], "bias": [1]},
    }
    assert (weights["latent_size"], weights["mixtures"]) == (32, 2)
    kernels = (
        (weights["lstm"]["recurrent_kernel"], mdnrnn.lstm.cell.get_weights()[1]),
        (weights["head"]["kernel"], mdnrnn.head.dense.get_weights()[0]),
    )
    for sent, kernel in kernels:
        assert "int8" in sent
        np.testing.assert_array_equal(sent["int8"], browser.quantised(kernel)["int8"])


def test_a_quantised_kernel_holds_a_byte_a_number_and_rounds_each_column_to_its_scale():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (6, 4)).astype(np.float32) * np.array([0.01, 1, 5, 0], np.float32)
    exported = browser.quantised(values)
    assert exported["shape"] == [6, 4] and exported["scale"]["shape"] == [4]
    assert len(base64.b64decode(exported["int8"])) == values.size
    scale = browser.unpacked(exported["scale"])
    np.testing.assert_allclose(scale, np.abs(values).max(axis=0) / 127, rtol=2**-10)
    back = browser.unpacked(exported)
    assert back.dtype == np.float32 and back.shape == values.shape
    assert np.all(np.abs(back - values) <= scale / 2 + 2**-10 * np.abs(values))
    assert np.all(back[:, 3] == 0)  # a column of zeros stays zeros


def test_a_static_widget_holds_its_data_safely_and_its_first_picture():
    data = {"caption": "</script><script>alert(1)</script>", "width": 64}
    picture = browser.png_data_uri(np.zeros((2, 2, 3), np.uint8))
    text = browser.static_widget("frame-player", data, picture)
    assert text.count("</script>") == 1
    start = text.index('type="application/json">') + len('type="application/json">')
    assert json.loads(text[start : text.index("</script>")]) == data
    assert 'data-kind="frame-player"' in text
    assert f'<img class="world-models-fallback" src="{picture}" width="64">' in text
