"""Interactive widgets the chapters share. In Jupyter or Colab they run in the kernel; each of
the players, the latent sliders and the dream player also saves a copy that runs in the web
book's browser without one (`wmlib.browser`)."""

import io

import ipywidgets as widgets
import numpy as np
from PIL import Image

from wmlib import browser


class PanelWithStaticCopy(widgets.VBox):
    """A panel of widgets that a live kernel draws as widgets, and that a saved notebook also
    holds as HTML (`browser.static_widget`) for the web book, which prefers it (`_config.yml`:
    `nb_mime_priority_overrides`)."""

    def __init__(self, children, static_html: str):
        super().__init__(children)
        self.static_html = static_html

    def _repr_mimebundle_(self, **kwargs):
        return {**super()._repr_mimebundle_(**kwargs), "text/html": self.static_html}


def png_bytes(frame: np.ndarray, scale: int = 4) -> bytes:
    """A uint8 RGB frame as PNG bytes, enlarged `scale` times with crisp pixels."""
    image = Image.fromarray(frame)
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def episode_player(
    frames: np.ndarray, rewards: np.ndarray | None = None, static_frames: int = 250
) -> PanelWithStaticCopy:
    """A slider over an episode's steps that shows the frame seen at that step.

    With `rewards`, the caption also gives the reward of that step and the return so far. The
    web book's copy holds at most `static_frames` frames, evenly spaced, to keep the page light.
    """
    returns = None if rewards is None else np.cumsum(rewards)
    slider = widgets.IntSlider(
        value=0, min=0, max=len(frames) - 1, description="step", continuous_update=True
    )
    image = widgets.Image(format="png", width=256)
    caption = widgets.Label()

    def describe(step: int) -> str:
        text = f"step {step} of {len(frames) - 1}"
        if returns is not None:
            text += f"; reward {rewards[step]:+.2f}, return so far {returns[step]:+.1f}"
        return text

    def show(step: int) -> None:
        image.value = png_bytes(frames[step])
        caption.value = describe(step)

    slider.observe(lambda change: show(change["new"]), names="value")
    show(0)
    shown_steps = browser.evenly_spaced(len(frames), static_frames)
    static = browser.static_widget(
        "frame-player",
        {
            "label": "step",
            "frames": [browser.png_data_uri(frames[step]) for step in shown_steps],
            "captions": [describe(step) for step in shown_steps],
            "width": 256,
        },
        browser.png_data_uri(frames[0]),
    )
    return PanelWithStaticCopy([slider, image, caption], static)


def latent_sliders(
    vae, frames: np.ndarray, dimensions, seed: int = 0, static_examples: int = 8
) -> PanelWithStaticCopy:
    """Sliders over chosen latent dimensions of V that decode z live (chapter 2).

    z starts at the encoding (μ) of a real frame; one button encodes another random frame, one
    samples z from the prior N(0, I). The dimensions without a slider keep their value. The web
    book's copy decodes in the browser and offers `static_examples` frames, with their μ.
    """
    from wmlib import vision  # imports TensorFlow, which only this widget needs

    rng = np.random.default_rng(seed)
    state = {"z": None, "updating": False}
    sliders = {
        int(dimension): widgets.FloatSlider(
            min=-3.0, max=3.0, step=0.05, description=f"z[{dimension}]", continuous_update=True
        )
        for dimension in dimensions
    }
    original, decoded = (widgets.Image(format="png", width=256) for _ in range(2))
    caption = widgets.Label()

    def redraw(change=None) -> None:
        if state["updating"]:
            return
        for dimension, slider in sliders.items():
            state["z"][dimension] = slider.value
        decoded.value = png_bytes(vision.decode(vae, state["z"][None])[0])

    def show(z: np.ndarray) -> None:
        state["z"], state["updating"] = z.astype(np.float32), True
        for dimension, slider in sliders.items():
            slider.value = float(np.clip(z[dimension], slider.min, slider.max))
        state["updating"] = False
        redraw()

    def random_frame(button=None) -> None:
        index = int(rng.integers(len(frames)))
        original.value = png_bytes(frames[index])
        caption.value = f"left: frame {index}; right: decoded from z"
        show(vision.encode(vae, frames[index : index + 1])[0][0])

    def prior_sample(button=None) -> None:
        original.value = png_bytes(np.zeros_like(frames[0]))
        caption.value = "right: z drawn from the prior N(0, I)"
        show(rng.standard_normal(vae.latent_size))

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    buttons = [
        widgets.Button(description="random frame"),
        widgets.Button(description="sample prior"),
    ]
    buttons[0].on_click(random_frame)
    buttons[1].on_click(prior_sample)
    random_frame()
    grid = widgets.GridBox(
        list(sliders.values()),
        layout=widgets.Layout(grid_template_columns="repeat(auto-fill, minmax(300px, 1fr))"),
    )
    panel = [widgets.HBox(buttons), widgets.HBox([original, decoded]), caption, grid]
    examples = np.random.default_rng(seed).integers(len(frames), size=static_examples)
    static = browser.static_widget(
        "latent-sliders",
        {
            "decoder": browser.decoder_weights(vae.decoder),
            "dimensions": [int(dimension) for dimension in dimensions],
            "examples": [int(index) for index in examples],
            "frames": [browser.png_data_uri(frames[index]) for index in examples],
            "means": vision.encode(vae, frames[examples])[0].round(4).tolist(),
            "width": 256,
        },
        browser.png_data_uri(decoded.value),
    )
    return PanelWithStaticCopy(panel, static)


def figure_png(figure) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed so that it is not shown twice."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def gate_viewer(trace: dict, sequence: int = 0) -> PanelWithStaticCopy:
    """A slider over time steps that shows each LSTM unit's gates and cell state (chapter 4).

    `trace` is what `wmlib.lstm.run_lstm` returns; `sequence` picks one sequence of its batch.
    Every step is drawn once, up front, so that the web book's copy moves too.
    """
    import matplotlib.pyplot as plt

    names = ("input", "forget", "output", "c")
    steps, units = trace["c"].shape[1:]
    cell_limit = float(np.abs(trace["c"][sequence]).max()) or 1.0

    def draw(step: int) -> bytes:
        figure, axes = plt.subplots(1, len(names), figsize=(12, 2.4))
        for axis, name in zip(axes, names, strict=True):
            axis.bar(range(units), trace[name][sequence, step], color="C0" if name != "c" else "C1")
            axis.set_ylim((-cell_limit, cell_limit) if name == "c" else (0, 1))
            axis.set_title(f"{name} gate" if name != "c" else "cell state c", fontsize=10)
            axis.set_xlabel("unit")
        figure.suptitle(f"step {step}", fontsize=10)
        return figure_png(figure)

    return picture_player([draw(step) for step in range(steps)], "step", width=680)


def picture_player(
    pictures: list[bytes], label: str, width: int, static_frames: int = 60
) -> PanelWithStaticCopy:
    """A slider, named `label`, over pictures drawn up front (PNG bytes), shown `width` pixels
    wide (chapters 4, 6 and 7). The web book's copy keeps at most `static_frames` of them,
    evenly spaced, in 32 colours.
    """
    slider = widgets.IntSlider(value=0, min=0, max=len(pictures) - 1, description=label)
    image = widgets.Image(value=pictures[0], format="png", width=width)
    slider.observe(lambda change: setattr(image, "value", pictures[change["new"]]), names="value")
    kept = browser.evenly_spaced(len(pictures), static_frames)
    static = browser.static_widget(
        "frame-player",
        {
            "label": label,
            "frames": [browser.png_data_uri(browser.fewer_colours(pictures[p])) for p in kept],
            "captions": [""] * len(kept),
            "width": width,
        },
        browser.png_data_uri(browser.fewer_colours(pictures[0])),
    )
    return PanelWithStaticCopy([slider, image], static)


def dream_player(vae, mdnrnn, initial_z, task, memory=None, seed: int = 0) -> PanelWithStaticCopy:
    """Act inside M's dream: set the task's actions (CarRacing's steering, gas and brake; Take
    Cover's move) and the temperature, press *step* (chapters 5 and 10).

    Each step runs M once from the current z and its memory, samples the next z at the chosen
    temperature and shows it decoded by V. *restart* goes back to the starting z and memory.
    """
    from wmlib import memory as memory_module
    from wmlib import vision

    dream = memory_module.DreamEnv(mdnrnn, np.asarray(initial_z)[None], seed=seed, memory=memory)
    controls = {
        name: widgets.FloatSlider(value=start, min=low, max=high, step=0.05, description=name)
        for name, low, high, start in task.action_sliders
    }
    controls["temperature"] = widgets.FloatSlider(
        value=1.0, min=0.05, max=2.0, step=0.05, description="temperature"
    )
    image, caption = widgets.Image(format="png", width=256), widgets.Label()
    buttons = [widgets.Button(description="step"), widgets.Button(description="restart")]

    def show(z, steps: int, ended: bool = False) -> None:
        image.value = png_bytes(vision.decode(vae, z)[0])
        caption.value = f"dream step {steps}" + (" (M predicts the episode ends)" if ended else "")

    def step(button=None) -> None:
        dream.temperature = controls["temperature"].value
        action = np.array([[controls[name].value for name, *_ in task.action_sliders]])
        z, _, terminated, _, _ = dream.step(action.astype(np.float32))
        show(z, dream.steps, bool(terminated[0]))

    def restart(button=None) -> None:
        z, _ = dream.reset()
        show(z, 0)

    buttons[0].on_click(step)
    buttons[1].on_click(restart)
    restart()
    panel = [widgets.HBox(buttons), image, caption, widgets.VBox(list(controls.values()))]
    start_memory = [np.zeros(mdnrnn.hidden_units)] * 2 if memory is None else memory
    static = browser.static_widget(
        "dream-player",
        {
            "decoder": browser.decoder_weights(vae.decoder),
            "memory": browser.memory_weights(mdnrnn),
            "initial_z": np.asarray(initial_z, np.float32).round(4).tolist(),
            "initial_memory": [
                np.asarray(part).reshape(-1).round(4).tolist() for part in start_memory
            ],
            "actions": [list(slider) for slider in task.action_sliders],
            "seed": seed,
            "width": 256,
        },
        browser.png_data_uri(image.value),
    )
    return PanelWithStaticCopy(panel, static)


def generation_viewer(
    function, records: list[dict], bounds, static_frames: int = 60
) -> PanelWithStaticCopy:
    """A slider over the generations of a 2-D run, drawing each population (chapters 6 and 7).

    Every generation is drawn once, up front; the web book's copy keeps at most `static_frames`
    of them, evenly spaced, in 32 colours.
    """
    import matplotlib.pyplot as plt

    from wmlib import plots

    def draw(generation: int) -> bytes:
        figure, axis = plt.subplots(figsize=(4, 4))
        best = records[generation]["values"].min()
        title = f"generation {generation}: best f = {best:.2e}"
        plots.draw_generation(axis, function, records[generation], bounds, title)
        return figure_png(figure)

    pictures = [draw(generation) for generation in range(len(records))]
    return picture_player(pictures, "generation", width=360, static_frames=static_frames)
