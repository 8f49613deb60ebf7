"""The book's conventions (DESIGN.md §4), and that it builds with warnings as errors."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
BOOK_COLUMN = 64
"""Characters of printed output that a chapter's column shows without scrolling (71 in a window
1,200 pixels wide), less a margin."""


def code_cells(notebook: Path) -> list[dict]:
    cells = json.loads(notebook.read_text())["cells"]
    return [cell for cell in cells if cell["cell_type"] == "code"]


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in CHAPTERS:
        assert f"book/{chapter.stem}" in toc


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_opens_with_its_title_then_installs_in_colab_only(chapter):
    title, install = json.loads(chapter.read_text())["cells"][:2]
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert title["cell_type"] == "markdown" and "".join(title["source"]).startswith("# ")
    assert install == code_cells(chapter)[0]
    assert install["metadata"]["tags"] == ["remove-cell"]
    source = "".join(install["source"])
    assert 'if "google.colab" in sys.modules' in source
    assert re.search(rf'%pip install .*"wmlib @ git\+{re.escape(repository)}"', source)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_prints_its_profile_next_in_a_few_short_lines(chapter):
    banner = json.loads(chapter.read_text())["cells"][2]
    source = "".join(banner["source"])
    assert "config.active(" in source and "describe()" in source
    assert banner["metadata"]["tags"] == ["hide-input"]
    printed = "".join(text for output in banner["outputs"] for text in output["text"])
    assert printed.startswith("Profile 'small'")
    assert len(printed.splitlines()) <= 3
    assert max(len(line) for line in printed.splitlines()) <= BOOK_COLUMN


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_is_committed_with_clean_outputs(chapter):
    outputs = [output for cell in code_cells(chapter) for output in cell.get("outputs", [])]
    assert outputs, f"{chapter.name} has no outputs: run `make execute` and commit them"
    for output in outputs:
        assert output["output_type"] != "error"
        if output.get("name") == "stderr":
            text = "".join(output["text"]).lower()
            assert not any(word in text for word in ("warning", "onednn", "cuda", "traceback"))


def test_book_builds_with_every_chapter(built_book):
    for chapter in CHAPTERS:
        assert (built_book / "book" / f"{chapter.stem}.html").exists()


def test_widget_javascript_is_served_locally(built_book):
    page = (built_book / "book" / "01_mdp_carracing.html").read_text()
    assert page.count('src="../_static/widgets/embed-amd.js') == 1
    assert "cdn.jsdelivr.net/npm/@jupyter-widgets" not in page
    assert (built_book / "_static" / "widgets" / "embed-amd.js").stat().st_size > 1_000_000


def test_mathjax_is_served_locally(built_book):
    page = (built_book / "book" / "02_vision_vae.html").read_text()
    assert page.count('src="../_static/../mathjax/tex-chtml-full.js') == 1
    assert "cdn.jsdelivr.net" not in page
    assert (built_book / "mathjax" / "tex-chtml-full.js").stat().st_size > 1_000_000


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_built_chapter_shows_its_title_before_any_cell(built_book, chapter):
    page = (built_book / "book" / f"{chapter.stem}.html").read_text()
    assert page.index("<h1>") < page.index('<div class="cell')


def test_tables_that_cells_print_in_markdown_are_html_tables(built_book):
    results = (built_book / "book" / "09_results.html").read_text()
    tables = re.findall(r"<table.*?</table>", results, flags=re.DOTALL)
    assert any("World Models (paper), C on [z, h]" in table for table in tables)
    for chapter in CHAPTERS:  # a Markdown table read as CommonMark is a paragraph of pipes
        assert "<p>|" not in (built_book / "book" / f"{chapter.stem}.html").read_text()
