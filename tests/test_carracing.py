"""CarRacing: frame preprocessing checked against Pillow on real frames, the action mapping, the
road detector, and the data policies."""

import numpy as np
import pytest
from PIL import Image

from wmlib import rollouts
from wmlib.env import carracing, frames


@pytest.fixture(scope="module")
def real_frames():
    """Raw frames from a seeded episode: the zoom at the start, then driving."""
    car_racing = carracing.make_env()
    frame, _ = car_racing.reset(seed=7)
    raw = [frame]
    rng = np.random.default_rng(7)
    for _ in range(80):
        frame, *_ = car_racing.step(rng.uniform(carracing.ACTION_LOW, carracing.ACTION_HIGH))
        raw.append(frame)
    car_racing.close()
    return np.stack(raw[::10])


def pillow_reference(frame):
    """Pillow's antialiased bilinear resize of the cropped frame."""
    cropped = Image.fromarray(frame[:84])
    return np.asarray(cropped.resize((64, 64), Image.Resampling.BILINEAR))


def test_preprocess_shape_and_dtype(real_frames):
    preprocessed = carracing.preprocess(real_frames)
    assert preprocessed.shape == (len(real_frames), 64, 64, 3)
    assert preprocessed.dtype == np.uint8


def test_preprocess_matches_pillow_on_real_frames(real_frames):
    for frame in real_frames:
        difference = np.abs(carracing.preprocess(frame).astype(int) - pillow_reference(frame))
        assert difference.max() <= 1  # Pillow rounds its fixed-point weights
        assert difference.mean() < 0.05


def test_batch_equals_one_by_one(real_frames):
    one_by_one = np.stack([carracing.preprocess(frame) for frame in real_frames])
    np.testing.assert_array_equal(carracing.preprocess(real_frames), one_by_one)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 254, 255])
def test_constant_frames_keep_their_value(value):
    """Regression: earlier code only worked through uint8 wrap-around; sums must not overflow."""
    frame = np.full((96, 96, 3), value, dtype=np.uint8)
    np.testing.assert_array_equal(carracing.preprocess(frame), np.full((64, 64, 3), value))


def test_dashboard_is_cropped():
    frame = np.zeros((96, 96, 3), dtype=np.uint8)
    frame[84:] = 255
    assert carracing.preprocess(frame).max() == 0


def test_resize_weights_rows_sum_to_one():
    weights = frames.resize_weights(84, 64)
    assert weights.shape == (64, 84)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((96, 96, 3), dtype=np.float32), np.zeros((64, 64, 3), dtype=np.uint8)],
    ids=["float frame", "already resized"],
)
def test_wrong_input_is_refused_clearly(frame):
    with pytest.raises(ValueError, match=r"\(\.\.\., 96, 96, 3\) and dtype uint8"):
        carracing.preprocess(frame)


def test_controller_action_ranges():
    raw = np.array([[-100.0, -100.0, -100.0], [0.0, 0.0, 0.0], [100.0, 100.0, 100.0]])
    np.testing.assert_allclose(
        carracing.controller_action(raw), [[-1, 0, 0], [0, 0.5, 0], [1, 1, 1]], atol=1e-6
    )


def test_road_share_counts_grey_pixels():
    road, grass = (105, 105, 105), (102, 204, 102)
    frame = np.empty((64, 64, 3), dtype=np.uint8)
    frame[:16], frame[16:] = road, grass
    np.testing.assert_allclose(carracing.road_share(frame[None]), [0.25])


@pytest.mark.parametrize("name", list(carracing.TASK.policies))
def test_policies_act_within_the_action_box(name):
    played = rollouts.run_episode("carracing", name, seed=1, max_steps=12)
    assert played.steps == 12 and played.truncated and played.policy == name
    assert np.all(played.actions >= carracing.ACTION_LOW)
    assert np.all(played.actions <= carracing.ACTION_HIGH)


def test_random_weights_policy_drives_nearly_straight_at_half_gas():
    played = rollouts.run_episode("carracing", "random_weights", seed=2, max_steps=30)
    np.testing.assert_allclose(played.actions.mean(axis=0), [0.0, 0.5, 0.0], atol=0.05)


def cauchy_actions(seed: int, steps: int = 20) -> np.ndarray:
    """The paper's random agent's first actions with the generator of episode `seed` (the policy
    ignores the frame: its random V hands C noise)."""
    policy = carracing.CauchyWeightsPolicy()
    policy.reset(np.random.default_rng(seed), (64, 64, 3))
    frame = np.zeros((64, 64, 3), dtype=np.uint8)
    return np.array([policy.act(frame) for _ in range(steps)])


def test_cauchy_weights_policy_acts_within_the_action_box_even_in_its_tails():
    actions = np.concatenate([cauchy_actions(seed, steps=5) for seed in range(200)])
    assert np.all(actions >= carracing.ACTION_LOW) and np.all(actions <= carracing.ACTION_HIGH)
    assert actions.dtype == np.float32


def test_cauchy_weights_policy_is_reproducible_from_its_seed():
    np.testing.assert_array_equal(cauchy_actions(3), cauchy_actions(3))
    assert not np.array_equal(cauchy_actions(3), cauchy_actions(4))


def test_cauchy_weights_policy_has_the_papers_shapes_and_scales():
    policy = carracing.CauchyWeightsPolicy()
    policy.reset(np.random.default_rng(0), (64, 64, 3))
    assert policy.weights.size + policy.bias.size == 867  # C on [z, h]: 288 × 3 + 3
    assert policy.kernel.shape == (32 + 3 + 256, 4 * 256)  # M's LSTM cell on [z, a, h]
    # V and M divide their parameters by 10,000; C does not
    ratio = np.median(np.abs(policy.kernel)) / np.median(np.abs(policy.weights))
    assert ratio == pytest.approx(1e-4, rel=0.2)


def test_cauchy_weights_are_heavy_tailed_and_the_gaussian_stand_in_is_not():
    """Largest over median absolute weight of C: hundreds for a Cauchy sample of 867, a few for
    a Gaussian one of 99."""
    for seed in range(5):
        cauchy, gaussian = carracing.CauchyWeightsPolicy(), carracing.RandomWeightsPolicy()
        cauchy.reset(np.random.default_rng(seed), (64, 64, 3))
        gaussian.reset(np.random.default_rng(seed), (64, 64, 3))
        for policy, low, high in ((cauchy, 50, np.inf), (gaussian, 0, 10)):
            weights = np.abs(np.concatenate([policy.weights.ravel(), policy.bias]))
            assert low < weights.max() / np.median(weights) < high


def test_cauchy_weights_episodes_differ_more_than_the_gaussian_ones():
    """Across episodes, the paper's agent brakes and steers in ways the stand-in never does."""
    frame = np.zeros((64, 64, 3), dtype=np.uint8)
    gaussian_actions = []
    for seed in range(40):
        policy = carracing.RandomWeightsPolicy()
        policy.reset(np.random.default_rng(seed), frame.shape)
        gaussian_actions.append([policy.act(frame) for _ in range(20)])
    gaussian = np.array(gaussian_actions)
    cauchy = np.array([cauchy_actions(seed) for seed in range(40)])
    assert gaussian[..., 2].max() < 0.05 and cauchy[..., 2].max() > 0.5  # brake
    assert np.abs(gaussian[..., 0]).max() < 0.05 and np.abs(cauchy[..., 0]).max() > 0.5  # steer


def test_track_fraction_is_the_share_of_tiles_visited():
    played = rollouts.run_episode("carracing", "uniform", seed=1, max_steps=5)
    tiles, track = played.extras["tiles_visited"], played.extras["track"]
    assert carracing.track_fraction(played) == pytest.approx(int(tiles) / len(track))
    assert 0 <= carracing.track_fraction(played) <= 1
