"""The chapters' widgets without a kernel: what the web book's pages need to run them.

A saved notebook keeps the widgets only as they were drawn last; on the static page nothing a
reader does can reach Python. So each widget also saves a piece of HTML that holds its data,
and the book's JavaScript (`_static/worldmodels/`) builds a working copy from it in the browser:
V's decoder and M's cell run there from weights exported here as float16 (half the bytes of
float32), M's two large kernels as 8-bit integers (a quarter; tests/test_browser.py bounds what
each changes), the players step through frames saved as PNG.
"""

import base64
import html
import io
import json

import numpy as np
from PIL import Image


def packed(array) -> dict:
    """An array as JSON can hold it compactly: its shape and its float16 values, little-endian,
    in base64 (2.7 bytes a number)."""
    values = np.asarray(array, dtype="<f2")
    return {"shape": list(values.shape), "data": base64.b64encode(values.tobytes()).decode()}


def quantised(array) -> dict:
    """A large kernel in a quarter of float32's bytes: 8-bit integers in base64, each column
    scaled by its largest magnitude ÷ 127 (a float16 per column; 1.35 bytes a number).

    Chapter 10's Take Cover M would otherwise make its page's dream player 4.5 MB. Run on 200
    steps of a held-out episode, its recurrent and mixture kernels in 8 bits move h and the
    predicted means by at most 0.011, against 0.0013 with every weight in float16.
    """
    values = np.asarray(array, np.float32)
    scale = (np.abs(values).max(axis=0) / 127).astype("<f2")
    step = np.where(scale == 0, 1, scale).astype(np.float32)
    integers = np.clip(np.round(values / step), -127, 127).astype(np.int8)
    return {
        "shape": list(values.shape),
        "scale": packed(scale),
        "int8": base64.b64encode(integers.tobytes()).decode(),
    }


def unpacked(packed_array: dict) -> np.ndarray:
    """The float32 array that `packed` or `quantised` holds, as the browser reads it."""
    if "int8" in packed_array:
        integers = np.frombuffer(base64.b64decode(packed_array["int8"]), dtype=np.int8)
        scaled = integers.reshape(packed_array["shape"]) * unpacked(packed_array["scale"])
        return scaled.astype(np.float32)
    values = np.frombuffer(base64.b64decode(packed_array["data"]), dtype="<f2")
    return values.astype(np.float32).reshape(packed_array["shape"])


def decoder_weights(decoder) -> dict:
    """V's decoder (`vision.build_decoder`) as the browser's decoder takes it.

    The dense layer has no activation and the first transposed convolution reads a 1×1 map, so
    together they are one linear map of z followed by a ReLU: its (latent size)×3,200 matrix
    replaces their 3.3 million numbers (92% of CarRacing's decoder), computed here in float64.
    Each transposed convolution's kernel is Keras' (height, width, outputs, inputs) with the last
    two axes swapped, so that the browser reads the weights of one input in a row.
    """
    dense, first, *rest = (layer for layer in decoder.layers if layer.get_weights())
    dense_kernel, dense_bias = (np.asarray(part, np.float64) for part in dense.get_weights())
    first_kernel, first_bias = (np.asarray(part, np.float64) for part in first.get_weights())
    height, width, outputs, inputs = first_kernel.shape
    first_map = first_kernel.transpose(3, 0, 1, 2).reshape(inputs, -1)
    return {
        "dense": {
            "kernel": packed(dense_kernel @ first_map),
            "bias": packed(dense_bias @ first_map + np.tile(first_bias, height * width)),
        },
        "start_shape": [height, width, outputs],
        "transposed": [
            {
                "kernel": packed(layer.get_weights()[0].transpose(0, 1, 3, 2)),
                "bias": packed(layer.get_weights()[1]),
                "stride": layer.strides[0],
                "activation": layer.activation.__name__,
            }
            for layer in rest
        ],
    }


def memory_weights(mdnrnn) -> dict:
    """M (`memory.MDNRNN`) as the browser's dream takes it: the LSTM cell's kernels (gates in
    Keras' order: input, forget, candidate, output), the mixture head and the done head; the
    recurrent and mixture kernels, nearly all of M's weights, in 8 bits (`quantised`)."""
    kernel, recurrent_kernel, bias = mdnrnn.lstm.cell.get_weights()
    head_kernel, head_bias = mdnrnn.head.dense.get_weights()
    done_kernel, done_bias = mdnrnn.done_head.get_weights()
    return {
        "lstm": {
            "kernel": packed(kernel),
            "recurrent_kernel": quantised(recurrent_kernel),
            "bias": packed(bias),
        },
        "head": {"kernel": quantised(head_kernel), "bias": packed(head_bias)},
        "done": {"kernel": packed(done_kernel), "bias": packed(done_bias)},
        "latent_size": mdnrnn.latent_size,
        "mixtures": mdnrnn.mixtures,
    }


def evenly_spaced(count: int, at_most: int) -> range:
    """Indices of at most `at_most` of `count` items, evenly spaced from the first: the frames a
    player's static copy keeps, so that a page stays light."""
    return range(0, count, -(-count // at_most))


def png_data_uri(picture) -> str:
    """A uint8 RGB frame, or PNG bytes, as a data URI an <img> shows without another request."""
    if isinstance(picture, np.ndarray):
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG", optimize=True)
        picture = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(picture).decode()


def fewer_colours(png: bytes, colours: int = 32) -> bytes:
    """A picture's PNG redrawn with at most `colours` colours: a figure of lines, dots and text
    looks the same at about a quarter of the bytes."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colours).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def static_widget(kind: str, data: dict, picture: str) -> str:
    """The HTML a saved notebook keeps for a widget: its data as JSON, which the book's
    `_static/worldmodels/widgets.js` turns into a working `kind` widget, and the widget's first
    `picture` (a data URI), shown where that script does not run (a notebook viewer, say)."""
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="world-models-widget" data-kind="{html.escape(kind)}">'
        f'<script type="application/json">{text}</script>'
        f'<img class="world-models-fallback" src="{picture}" width="{data["width"]}"></div>'
    )
