"""Videos of the agent: frames with the score written on them, saved as a looping GIF."""

import numpy as np
from PIL import Image

from wmlib import media


def test_video_frames_keep_every_strideth_frame_enlarged():
    frames = [np.zeros((96, 96, 3), np.uint8) for _ in range(5)]
    pictures = media.video_frames(frames, [1.0, 2.0, 3.0, 4.0], scale=2, stride=2)
    assert len(pictures) == 3 and pictures[0].size == (192, 192)


def test_video_frames_show_the_reward_so_far_in_white():
    frames = [np.zeros((96, 96, 3), np.uint8) for _ in range(5)]
    pictures = media.video_frames(frames, [1.0, 2.0, 3.0, 4.0], scale=2, stride=2)
    assert np.asarray(pictures[1]).max() > 200  # the text is drawn in white


def test_write_gif_saves_every_picture_atomically(tmp_path):
    frames = [np.zeros((96, 96, 3), np.uint8) for _ in range(5)]
    pictures = media.video_frames(frames, [1.0, 2.0, 3.0, 4.0], scale=2, stride=2)
    media.write_gif(tmp_path / "agent.gif", pictures, frames_per_second=25)
    with Image.open(tmp_path / "agent.gif") as gif:
        assert gif.n_frames == 3
    assert not list(tmp_path.glob(".partial.*"))
