"""The book's conventions (DESIGN.md §4), and that it builds with warnings as errors."""

import json
import re
import subprocess
import sys
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


def test_book_builds_without_warnings(tmp_path):
    result = subprocess.run(
        [JUPYTER_BOOK, "build", str(ROOT), "--path-output", str(tmp_path), "-W"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = tmp_path / "_build" / "html"
    assert (html / "book" / "01_mdp_carracing.html").exists()
    page = (html / "book" / "01_mdp_carracing.html").read_text()
    assert "cdn.jsdelivr.net/npm/@jupyter-widgets" not in page
