"""The LSTM written from its equations (chapter 4), to read its gates step by step; M
(`wmlib.memory`) runs Keras' own LSTM, whose weights these functions take."""

import numpy as np

from wmlib.runtime import tf


def lstm_step(x, h, c, kernel, recurrent_kernel, bias):
    """One step of an LSTM, written from its equations (chapter 4).

    With W = kernel, U = recurrent_kernel and b = bias holding the four gates side by side in
    Keras' order (input, forget, candidate, output):

        i = σ(x W_i + h U_i + b_i)      how much of the candidate to write
        f = σ(x W_f + h U_f + b_f)      how much of the old cell state to keep
        g = tanh(x W_g + h U_g + b_g)   the candidate values
        o = σ(x W_o + h U_o + b_o)      how much of the cell state to show
        c' = f ⊙ c + i ⊙ g              the long-term store
        h' = o ⊙ tanh(c')               the short-term output

    Returns (h', c', gates) where gates maps "input", "forget", "candidate", "output" to values.
    """
    pre_activations = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
    i, f, g, o = tf.split(pre_activations, 4, axis=-1)
    gates = {
        "input": tf.sigmoid(i),
        "forget": tf.sigmoid(f),
        "candidate": tf.tanh(g),
        "output": tf.sigmoid(o),
    }
    c = gates["forget"] * c + gates["input"] * gates["candidate"]
    h = gates["output"] * tf.tanh(c)
    return h, c, gates


def run_lstm(inputs, kernel, recurrent_kernel, bias):
    """Run `lstm_step` over a batch of sequences (batch, time, features) from zero states.

    Returns the hidden states, the cell states and each gate, all stacked over time:
    (batch, time, units) arrays.
    """
    units = recurrent_kernel.shape[0]
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    h = c = tf.zeros((inputs.shape[0], units))
    trace = {"h": [], "c": [], "input": [], "forget": [], "candidate": [], "output": []}
    for t in range(inputs.shape[1]):
        h, c, gates = lstm_step(inputs[:, t], h, c, kernel, recurrent_kernel, bias)
        for name, value in {"h": h, "c": c, **gates}.items():
            trace[name].append(value)
    return {name: np.stack(values, axis=1) for name, values in trace.items()}
