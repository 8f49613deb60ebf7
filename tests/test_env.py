"""Frame preprocessing, checked against Pillow on real CarRacing frames."""

import numpy as np
import pytest
from PIL import Image

from wmlib import env


@pytest.fixture(scope="module")
def real_frames():
    """Raw frames from a seeded episode: the zoom at the start, then driving."""
    car_racing = env.make_env()
    frame, _ = car_racing.reset(seed=7)
    frames = [frame]
    rng = np.random.default_rng(7)
    for _ in range(80):
        frame, *_ = car_racing.step(rng.uniform(env.ACTION_LOW, env.ACTION_HIGH))
        frames.append(frame)
    car_racing.close()
    return np.stack(frames[::10])


def pillow_reference(frame):
    """Pillow's antialiased bilinear resize of the cropped frame."""
    cropped = Image.fromarray(frame[:84])
    return np.asarray(cropped.resize((64, 64), Image.Resampling.BILINEAR))


def test_preprocess_shape_and_dtype(real_frames):
    frames = env.preprocess(real_frames)
    assert frames.shape == (len(real_frames), 64, 64, 3)
    assert frames.dtype == np.uint8


def test_preprocess_matches_pillow_on_real_frames(real_frames):
    for frame in real_frames:
        difference = np.abs(env.preprocess(frame).astype(int) - pillow_reference(frame))
        assert difference.max() <= 1  # Pillow rounds its fixed-point weights
        assert difference.mean() < 0.05


def test_batch_equals_one_by_one(real_frames):
    one_by_one = np.stack([env.preprocess(frame) for frame in real_frames])
    np.testing.assert_array_equal(env.preprocess(real_frames), one_by_one)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 254, 255])
def test_constant_frames_keep_their_value(value):
    """Regression: earlier code only worked through uint8 wrap-around; sums must not overflow."""
    frame = np.full((96, 96, 3), value, dtype=np.uint8)
    np.testing.assert_array_equal(env.preprocess(frame), np.full((64, 64, 3), value))


def test_dashboard_is_cropped():
    frame = np.zeros((96, 96, 3), dtype=np.uint8)
    frame[84:] = 255
    assert env.preprocess(frame).max() == 0


def test_resize_weights_rows_sum_to_one():
    weights = env.resize_weights(84, 64)
    assert weights.shape == (64, 84)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((96, 96, 3), dtype=np.float32), np.zeros((64, 64, 3), dtype=np.uint8)],
    ids=["float frame", "already resized"],
)
def test_wrong_input_is_refused_clearly(frame):
    with pytest.raises(ValueError, match=r"\(\.\.\., 96, 96, 3\) and dtype uint8"):
        env.preprocess(frame)


def test_controller_action_ranges():
    raw = np.array([[-100.0, -100.0, -100.0], [0.0, 0.0, 0.0], [100.0, 100.0, 100.0]])
    np.testing.assert_allclose(
        env.controller_action(raw), [[-1, 0, 0], [0, 0.5, 0], [1, 1, 1]], atol=1e-6
    )


def test_road_share_counts_grey_pixels():
    road, grass = (105, 105, 105), (102, 204, 102)
    frame = np.empty((64, 64, 3), dtype=np.uint8)
    frame[:16], frame[16:] = road, grass
    np.testing.assert_allclose(env.road_share(frame[None]), [0.25])
