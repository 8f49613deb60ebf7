"""Comparing recorded episodes, for the tests of the files and of the recording."""

import numpy as np


def assert_same_episode(first, second):
    """Two episodes hold the same arrays, flags and extras."""
    for name in ("observations", "actions", "rewards"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    for name in ("terminated", "truncated", "seed", "policy"):
        assert getattr(first, name) == getattr(second, name)
    assert first.extras.keys() == second.extras.keys()
    for name in first.extras:
        np.testing.assert_array_equal(first.extras[name], second.extras[name])
