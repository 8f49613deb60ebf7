"""Videos of the agent: frames with the score written on them, saved as a GIF (chapter 9)."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from wmlib.files import write_atomically


def video_frames(
    frames: list[np.ndarray], rewards: list[float], scale: float, stride: int
) -> list[Image.Image]:
    """Pictures for a video of one episode: every `stride`-th raw frame, resized `scale` times,
    with the step and the reward collected so far written on it."""
    cumulative = np.concatenate([[0.0], np.cumsum(rewards)])
    pictures = []
    for step in range(0, len(frames), stride):
        height, width = frames[step].shape[:2]
        size = (round(width * scale), round(height * scale))
        picture = Image.fromarray(frames[step]).resize(
            size, Image.NEAREST if scale >= 1 else Image.BILINEAR
        )
        ImageDraw.Draw(picture).text(
            (6, 4), f"step {step:4d}   reward {cumulative[step]:6.1f}", fill=(255, 255, 255)
        )
        pictures.append(picture)
    return pictures


def write_gif(
    path: Path, pictures: list[Image.Image], frames_per_second: float, comment: str = ""
) -> None:
    """Save pictures as a looping GIF, atomically, with `comment` in the file's comment block."""
    write_atomically(
        path,
        lambda partial: pictures[0].save(
            partial,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=round(1000 / frames_per_second),
            loop=0,
            comment=comment.encode(),
        ),
    )


def gif_comment(path: Path) -> str:
    """The comment a GIF was saved with (`write_gif`)."""
    with Image.open(path) as gif:
        return gif.info.get("comment", b"").decode()
