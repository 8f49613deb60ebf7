"""Widgets, driven without a browser: moving the slider must redraw the frame."""

import io
import json

import numpy as np
from PIL import Image

from wmlib import widgets


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_png_bytes_round_trip_with_scaling():
    frame = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = decoded(widgets.png_bytes(frame, scale=2))
    np.testing.assert_array_equal(image[::2, ::2], frame)


def test_episode_player_follows_the_slider():
    frames = np.stack([np.full((4, 4, 3), value, dtype=np.uint8) for value in (0, 100, 200)])
    rewards = np.array([1.0, -0.1, 2.0])
    player = widgets.episode_player(frames, rewards)
    slider, image, caption = player.children
    assert slider.max == 2 and decoded(image.value).max() == 0
    slider.value = 2
    assert np.all(decoded(image.value) == 200)
    assert caption.value == "step 2 of 2; reward +2.00, return so far +2.9"


def test_latent_sliders_decode_live():
    from wmlib import config, vision

    vae = vision.build_vae(config.VisionConfig())
    frames = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    panel = widgets.latent_sliders(vae, frames, dimensions=[3, 7])
    (random_button, prior_button), (original, decoded), caption, grid = (
        panel.children[0].children,
        panel.children[1].children,
        panel.children[2],
        panel.children[3],
    )
    first_slider = grid.children[0]
    assert first_slider.description == "z[3]"
    before = decoded.value
    first_slider.value = 2.5 if first_slider.value < 0 else -2.5
    assert decoded.value != before
    moved = decoded.value
    prior_button.click()
    assert "prior" in caption.value and decoded.value != moved
    random_button.click()
    index = int(caption.value.split()[2].rstrip(";"))
    assert original.value == widgets.png_bytes(frames[index])


def test_gate_viewer_draws_each_step_for_the_kernel_and_the_web_book():
    rng = np.random.default_rng(0)
    trace = {name: rng.random((2, 5, 3)) for name in ("input", "forget", "output", "c")}
    viewer = widgets.gate_viewer(trace, sequence=1)
    slider, image = viewer.children
    assert slider.max == 4
    first = image.value
    slider.value = 3
    assert image.value != first and decoded(image.value).shape[2] == 3
    text = viewer.static_html
    data = json.loads(text[text.index(">{") + 1 : text.index("</script>")])
    assert data["label"] == "step" and len(set(data["frames"])) == 5


def test_dream_player_steps_and_restarts():
    from wmlib import config, memory, vision
    from wmlib.env import carracing

    vae = vision.build_vae(config.VisionConfig())
    mdnrnn = memory.build_mdnrnn(config.MemoryConfig(hidden_units=8, mixtures=2), 32, 3)
    player = widgets.dream_player(vae, mdnrnn, np.zeros(32, np.float32), carracing.TASK)
    buttons, image, caption, sliders = player.children
    assert [slider.description for slider in sliders.children] == [
        "steer", "gas", "brake", "temperature",
    ]  # fmt: skip
    step_button, restart_button = buttons.children
    assert caption.value == "dream step 0"
    start = image.value
    step_button.click()
    step_button.click()
    assert caption.value.startswith("dream step 2") and image.value != start
    restart_button.click()
    assert caption.value == "dream step 0" and image.value == start


def test_dream_player_offers_the_tasks_own_actions():
    from wmlib import config, memory, vision
    from wmlib.env import doom

    vae = vision.build_vae(config.VisionConfig(latent_size=64))
    mdnrnn = memory.build_mdnrnn(config.MemoryConfig(hidden_units=8, mixtures=2), 64, 1)
    player = widgets.dream_player(vae, mdnrnn, np.zeros(64, np.float32), doom.TASK)
    buttons, _, caption, sliders = player.children
    assert [slider.description for slider in sliders.children] == ["move", "temperature"]
    sliders.children[0].value = -1.0
    buttons.children[0].click()
    assert caption.value.startswith("dream step 1")


def test_a_panel_shows_as_a_widget_in_a_kernel_and_keeps_a_static_copy():
    frames = np.zeros((3, 4, 4, 3), dtype=np.uint8)
    bundle = widgets.episode_player(frames)._repr_mimebundle_()
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]
    assert bundle["text/html"].startswith(
        '<div class="world-models-widget" data-kind="frame-player"'
    )


def test_episode_players_static_copy_keeps_evenly_spaced_frames():
    frames = np.stack([np.full((4, 4, 3), value, dtype=np.uint8) for value in range(10)])
    player = widgets.episode_player(frames, np.ones(10), static_frames=4)
    text = player.static_html
    data = json.loads(text[text.index(">{") + 1 : text.index("</script>")])
    assert data["captions"] == [
        f"step {step} of 9; reward +1.00, return so far {step + 1:+.1f}" for step in (0, 3, 6, 9)
    ]
    assert len(data["frames"]) == 4 and data["frames"][1].startswith("data:image/png;base64,")


def test_generation_viewer_draws_each_generation():
    from wmlib import evolution

    strategy = evolution.CMAES(np.array([2.0, 2.0]), 0.5, seed=0)
    records = evolution.record_run(strategy, evolution.sphere, 5)
    slider, image = widgets.generation_viewer(evolution.sphere, records, (-3, 3)).children
    first = image.value
    slider.value = 4
    assert slider.max == 4 and image.value != first
