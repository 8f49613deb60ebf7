"""C: the paper's 867 parameters, and actions as W [z, h] + b squashed into the task's ranges."""

import numpy as np
import pytest

from wmlib import controller
from wmlib.env import carracing


def test_the_controller_has_the_papers_867_parameters_and_99_for_z_only():
    full = controller.input_size(32, 256)
    z_only = controller.input_size(32, 256, use_memory=False)
    assert (full, z_only) == (288, 32)
    assert controller.parameter_count(full, 3) == 867
    assert controller.parameter_count(z_only, 3) == 99


def test_actions_are_w_times_features_plus_b_squashed_into_carracings_ranges():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, 288)).astype(np.float32)
    parameters = rng.normal(scale=2.0, size=(5, 867)).astype(np.float32)
    actions = controller.act(parameters, features, carracing.controller_action)
    for row in range(5):
        weights, bias = parameters[row, :864].reshape(288, 3), parameters[row, 864:]
        raw = np.tanh(features[row] @ weights + bias)
        expected = [raw[0], (raw[1] + 1) / 2, max(raw[2], 0.0)]
        np.testing.assert_allclose(actions[row], expected, rtol=1e-5, atol=1e-6)
    assert np.all(actions[:, 0] >= -1) and np.all(actions[:, 0] <= 1)
    assert np.all(actions[:, 1:] >= 0) and np.all(actions[:, 1:] <= 1)
    assert np.all((actions >= carracing.ACTION_LOW) & (actions <= carracing.ACTION_HIGH))


def test_zero_parameters_drive_straight_at_half_gas():
    actions = controller.act(np.zeros((1, 99)), np.ones((1, 32)), carracing.controller_action)
    np.testing.assert_allclose(actions, [[0, 0.5, 0]])


def test_parameters_that_do_not_fit_the_inputs_are_refused():
    with pytest.raises(controller.ControllerError, match="100 controller parameters do not fit"):
        controller.act(np.zeros((1, 100)), np.ones((1, 32)), carracing.controller_action)
