"""The small problems of chapters 3 and 4 hold what their chapters say they hold."""

import numpy as np

from wmlib import toy_data


def test_toy_data_shapes_and_meaning():
    rng = np.random.default_rng(0)
    x, t = toy_data.inverted_sine(100, rng)
    assert x.shape == t.shape == (100, 1) and t.min() >= 0 and t.max() <= 1
    sequences = toy_data.branching_sequences(50, 30, 10, rng)
    steps = np.diff(sequences[..., 0], axis=1)
    assert sequences.shape == (50, 30, 1)
    assert np.all(np.abs(steps[:, :8] - 0.05) < 0.06)
    assert set(np.sign(np.round(steps[:, 15], 1))) == {-1.0, 1.0}
    inputs, targets = toy_data.recall_task(20, 12, rng)
    assert inputs.shape == (20, 12, 2) and targets.shape == (20, 1)
    np.testing.assert_array_equal(inputs[:, 0, 0], targets[:, 0])
    assert np.all(inputs[:, 0, 1] == 1) and np.all(inputs[:, 1:, 1] == 0)
