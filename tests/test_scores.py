"""Scores with their standard errors, and paired differences between controllers."""

import numpy as np
import pytest

from wmlib import scores


def test_a_score_is_the_mean_with_the_standard_error_of_the_mean():
    result = scores.score([1.0, 2.0, 3.0, 6.0])
    assert result.mean == 3.0 and result.episodes == 4
    assert result.standard_error == pytest.approx(np.sqrt(14 / 3) / 2)
    assert str(result) == "3 ± 1 (s.e., 4 episodes)"


def test_pairing_removes_what_the_tracks_share():
    rng = np.random.default_rng(0)
    track_difficulty = rng.normal(scale=100.0, size=100)
    better = 500 + track_difficulty + rng.normal(scale=5.0, size=100)
    worse = 480 + track_difficulty + rng.normal(scale=5.0, size=100)
    difference = scores.paired_difference(better, worse)
    assert difference.mean == pytest.approx(20, abs=3)
    unpaired = np.hypot(scores.score(better).standard_error, scores.score(worse).standard_error)
    assert difference.standard_error < unpaired / 10


@pytest.mark.parametrize(
    "first, second", [([1.0, 2.0], [1.0, 2.0, 3.0]), ([[1.0, 2.0]], [[1.0, 2.0]])]
)
def test_returns_of_other_tracks_or_shapes_are_refused(first, second):
    with pytest.raises(ValueError, match="same tracks|flat list"):
        scores.paired_difference(first, second)


def test_two_controllers_that_score_alike_on_every_track_are_not_told_apart():
    same = scores.paired_difference([300.0, 500.0], [300.0, 500.0])
    assert "cannot tell them apart" in scores.verdict("round 1", "round 0", same)


def test_a_verdict_needs_two_standard_errors():
    close = scores.Score(mean=-30.0, standard_error=20.0, episodes=100)
    far = scores.Score(mean=-50.0, standard_error=20.0, episodes=100)
    assert "cannot tell them apart" in scores.verdict("round 1", "round 0", close)
    assert scores.verdict("round 1", "round 0", far) == "round 0 is better"
