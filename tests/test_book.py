"""The book's conventions (DESIGN.md §4), and that it builds with warnings as errors."""

import http.server
import json
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def code_cells(notebook: Path) -> list[dict]:
    cells = json.loads(notebook.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in toc


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_installs_in_colab_only_then_prints_the_profile(chapter):
    install, profile = ("".join(cell["source"]) for cell in code_cells(chapter)[:2])
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert 'if "google.colab" in sys.modules' in install
    assert re.search(rf'%pip install .*"wmlib @ git\+{re.escape(repository)}"', install)
    assert code_cells(chapter)[0]["metadata"]["tags"] == ["remove-cell"]
    assert "config.active()" in profile and "describe()" in profile


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_is_committed_with_clean_outputs(chapter):
    outputs = [output for cell in code_cells(chapter) for output in cell.get("outputs", [])]
    assert outputs, f"{chapter.name} has no outputs: run `make execute` and commit them"
    for output in outputs:
        assert output["output_type"] != "error"
        if output.get("name") == "stderr":
            text = "".join(output["text"]).lower()
            assert not any(word in text for word in ("warning", "onednn", "cuda", "traceback"))


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """The book built once, with warnings as errors, into a temporary folder."""
    output = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [JUPYTER_BOOK, "build", str(ROOT), "--path-output", str(output), "-W"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output / "_build" / "html"


def test_book_builds_with_every_chapter(built_book):
    for chapter in CHAPTERS:
        assert (built_book / "book" / f"{chapter.stem}.html").exists()


def test_widget_javascript_is_served_locally(built_book):
    page = (built_book / "book" / "01_mdp_carracing.html").read_text()
    assert page.count('src="../_static/widgets/embed-amd.js') == 1
    assert "cdn.jsdelivr.net/npm/@jupyter-widgets" not in page
    assert (built_book / "_static" / "widgets" / "embed-amd.js").stat().st_size > 1_000_000


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_widgets_are_drawn_in_the_built_page(built_book):
    """Serve the built book on localhost, let headless Chromium run its scripts, read the DOM."""
    with socketserver.TCPServer(("127.0.0.1", 0), partial_handler(built_book)) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/book/01_mdp_carracing.html"
        with tempfile.TemporaryDirectory() as profile:
            dom = subprocess.run(
                ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
        server.shutdown()
    drawn = re.findall(r'class="[^"]*jupyter-widgets [^"]*"', dom)
    assert sum("widget-hslider" in classes for classes in drawn) == 1  # the player's slider, once
    assert sum("widget-image" in classes for classes in drawn) == 1


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
]


def partial_handler(directory: Path):
    """A quiet static-file request handler serving `directory`."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args):
            pass

    return Handler
