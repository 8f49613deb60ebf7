"""The widgets' copies that run in the reader's browser, without a kernel (`wmlib.browser`,
`_static/worldmodels/`): the JavaScript decoder and dream match Keras, and every widget moves.

They run in Debian's Chromium: first on a page that loads the built book's own `_static` scripts
and holds the widgets' static HTML as `wmlib.widgets` saves it, built from small untrained
models; then in the built chapters, from the outputs of the `small` run.
"""

import numpy as np
import pytest
from local_server import served

from wmlib import browser as exported
from wmlib import config, widgets

SCRIPTS = ["decoder.js", "memory.js", "widgets.js"]


@pytest.fixture(scope="module")
def models():
    """An untrained V and a small untrained M, seeded."""
    from wmlib import config, memory, vision
    from wmlib.runtime import keras

    keras.utils.set_random_seed(0)
    vae = vision.build_vae(config.VisionConfig())
    mdnrnn = memory.build_mdnrnn(config.MemoryConfig(hidden_units=16, mixtures=3), 32, 3)
    return vae, mdnrnn


@pytest.fixture(scope="module")
def page(browser, built_book, models, tmp_path_factory):
    """A page with one widget of each kind, served beside the built book's `_static` folder."""
    from wmlib import evolution
    from wmlib.env import carracing

    vae, mdnrnn = models
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    records = evolution.record_run(
        evolution.CMAES(np.array([2.0, 2.0]), 0.5, seed=0), evolution.sphere, 3
    )
    panels = {
        "episode": widgets.episode_player(frames, rng.normal(size=5)),
        "latent": widgets.latent_sliders(vae, frames, dimensions=[3, 7], static_examples=3),
        "dream": widgets.dream_player(vae, mdnrnn, rng.normal(size=32), carracing.TASK),
        "generations": widgets.generation_viewer(evolution.sphere, records, (-3, 3)),
    }
    folder = tmp_path_factory.mktemp("widgets")
    (folder / "_static").symlink_to(built_book / "_static")
    scripts = "".join(f'<script src="_static/worldmodels/{name}"></script>' for name in SCRIPTS)
    body = "".join(
        f'<section id="{name}">{panel.static_html}</section>' for name, panel in panels.items()
    )
    (folder / "page.html").write_text(f'<!doctype html><meta charset="utf-8">{scripts}{body}')
    with served(folder) as url:
        tab = browser.new_page()
        errors = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(f"{url}/page.html")
        tab.wait_for_selector("#dream canvas")
        yield tab
        tab.close()
        assert errors == []


def test_the_browsers_decoder_gives_what_keras_gives(page, models):
    vae, _ = models
    z = np.random.default_rng(2).standard_normal((4, 32)).astype(np.float32)
    weights = exported.decoder_weights(vae.decoder)
    in_browser = page.evaluate(
        """([weights, zs]) => {
            const decoder = worldModels.decoderFrom(weights);
            return zs.map((z) => Array.from(worldModels.decode(decoder, z)));
        }""",
        [weights, z.tolist()],
    )
    in_keras = np.asarray(vae.decoder(z)).reshape(len(z), -1)
    difference = np.abs(np.array(in_browser) - in_keras).max()
    print(f"largest difference, browser vs Keras: {difference:.2e}")
    assert difference < 1e-3


def as_exported(mdnrnn):
    """A copy of M holding the weights the browser receives (float16, two kernels in 8 bits)."""
    from wmlib import memory

    weights = exported.memory_weights(mdnrnn)
    copy = memory.build_mdnrnn(
        config.MemoryConfig(hidden_units=mdnrnn.hidden_units, mixtures=mdnrnn.mixtures),
        mdnrnn.latent_size,
        mdnrnn.action_size,
    )
    lstm, head, done = (weights[name] for name in ("lstm", "head", "done"))
    copy.lstm.cell.set_weights(
        [exported.unpacked(lstm[part]) for part in ("kernel", "recurrent_kernel", "bias")]
    )
    for layer, pair in ((copy.head.dense, head), (copy.done_head, done)):
        layer.set_weights([exported.unpacked(pair["kernel"]), exported.unpacked(pair["bias"])])
    return copy


def test_the_browsers_memory_steps_as_keras_does(page, models):
    _, mdnrnn = models
    rng = np.random.default_rng(3)
    z, action = rng.standard_normal((1, 32)), rng.uniform(-1, 1, (1, 3))
    state = [rng.standard_normal((1, 16)).astype(np.float32) for _ in range(2)]
    in_browser = page.evaluate(
        """([weights, z, action, h, c]) => {
            const memory = worldModels.memoryFrom(weights);
            const next = worldModels.lstmStep(memory.lstm, [...z, ...action], {
                h: Float32Array.from(h), c: Float32Array.from(c),
            });
            const mixture = worldModels.mixtureFrom(memory, next.h);
            return {
                h: Array.from(next.h), c: Array.from(next.c),
                means: mixture.map((dimension) => Array.from(dimension.means)),
            };
        }""",
        [
            exported.memory_weights(mdnrnn),
            z[0].tolist(),
            action[0].tolist(),
            *state[0].tolist(),
            *state[1].tolist(),
        ],
    )
    copy = as_exported(mdnrnn)
    (_, means, _), _, (h, c) = copy.step(z.astype(np.float32), action.astype(np.float32), state)
    for name, keras_value in (("h", h), ("c", c), ("means", means)):
        assert np.abs(np.array(in_browser[name]) - np.asarray(keras_value)[0]).max() < 1e-3


def picture(page, selector: str) -> str:
    """What an image or canvas of the page shows, as a data URI."""
    return page.eval_on_selector(
        selector, "node => node.tagName === 'CANVAS' ? node.toDataURL() : node.src"
    )


def move(page, selector: str, value: float) -> None:
    """Set a range input and let the page hear it, as a reader's drag does."""
    page.eval_on_selector(
        selector,
        "(input, value) => { input.value = value; input.dispatchEvent(new Event('input')); }",
        value,
    )


def test_moving_a_latent_slider_changes_the_decoded_picture(page):
    before = picture(page, "#latent canvas")
    move(page, "#latent input[type=range]", -2.5)
    assert picture(page, "#latent canvas") != before
    page.click("#latent button:has-text('sample prior')")
    assert "prior" in page.inner_text("#latent .world-models-caption")


def test_the_dream_player_advances_and_its_temperature_changes_the_draws(page):
    caption = "#dream .world-models-caption"
    start = picture(page, "#dream canvas")
    page.click("#dream button:has-text('step')")
    page.click("#dream button:has-text('step')")
    assert page.inner_text(caption).startswith("dream step 2")
    at_one = picture(page, "#dream canvas")
    assert at_one != start
    page.click("#dream button:has-text('restart')")
    assert page.inner_text(caption) == "dream step 0" and picture(page, "#dream canvas") == start
    move(page, "#dream label:has-text('temperature') input", 2.0)
    page.click("#dream button:has-text('step')")
    page.click("#dream button:has-text('step')")
    assert picture(page, "#dream canvas") != at_one


@pytest.mark.parametrize("player", ["episode", "generations"])
def test_a_player_moves_through_its_frames(page, player):
    first = picture(page, f"#{player} img")
    move(page, f"#{player} input[type=range]", 2)
    assert picture(page, f"#{player} img") != first


def test_a_built_widget_replaces_its_saved_picture(page):
    assert page.locator(".world-models-widget.built").count() == 4
    assert page.locator(".world-models-fallback").count() == 0


CHAPTER_WIDGETS = {
    "01_mdp_carracing": "frame-player",
    "02_vision_vae": "latent-sliders",
    "04_lstm": "frame-player",
    "05_memory_mdnrnn": "dream-player",
    "06_evolution": "frame-player",
    "07_cmaes": "frame-player",
    "10_doom_takecover": "dream-player",
}
"""The chapters whose saved widget runs in the browser, and its kind."""


@pytest.mark.parametrize(("chapter", "kind"), CHAPTER_WIDGETS.items())
def test_a_chapters_widget_moves_in_the_built_page(browser, built_book, chapter, kind):
    with served(built_book) as url:
        tab = browser.new_page()
        tab.goto(f"{url}/book/{chapter}.html")
        widget = f".world-models-widget.built[data-kind={kind}]"
        tab.wait_for_selector(widget)
        shown = f"{widget} canvas" if kind != "frame-player" else f"{widget} img"
        before = picture(tab, shown)
        if kind == "dream-player":
            tab.click(f"{widget} button:has-text('step')")
        else:
            move(tab, f"{widget} input[type=range]", 3)
        after = picture(tab, shown)
        count = tab.locator(".world-models-widget").count()
        tab.close()
    assert count == 1
    assert after != before
