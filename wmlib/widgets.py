"""Interactive widgets the chapters share. They need a running kernel (Jupyter or Colab); the
static web book draws them in the state they were saved in."""

import io

import ipywidgets as widgets
import numpy as np
from PIL import Image


def png_bytes(frame: np.ndarray, scale: int = 4) -> bytes:
    """A uint8 RGB frame as PNG bytes, enlarged `scale` times with crisp pixels."""
    image = Image.fromarray(frame)
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def episode_player(frames: np.ndarray, rewards: np.ndarray | None = None) -> widgets.VBox:
    """A slider over an episode's steps that shows the frame seen at that step.

    With `rewards`, the caption also gives the reward of that step and the return so far.
    """
    returns = None if rewards is None else np.cumsum(rewards)
    slider = widgets.IntSlider(
        value=0, min=0, max=len(frames) - 1, description="step", continuous_update=True
    )
    image = widgets.Image(format="png")
    caption = widgets.Label()

    def show(step: int) -> None:
        image.value = png_bytes(frames[step])
        caption.value = f"step {step} of {len(frames) - 1}"
        if returns is not None:
            caption.value += f"; reward {rewards[step]:+.2f}, return so far {returns[step]:+.1f}"

    slider.observe(lambda change: show(change["new"]), names="value")
    show(0)
    return widgets.VBox([slider, image, caption])
