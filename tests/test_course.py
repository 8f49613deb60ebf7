"""What makes the book usable in a course: objectives, exercises, citations, notation, links."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
PAGES = sorted(BOOK.glob("*.md"))
OBJECTIVES = "```{admonition} Objectives, prerequisites and time"
"""The opening of the box that follows every chapter's introduction."""
CITATION = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\([^)]*\)|\{(?:doc|ref|numref)\}`[^`]*`")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)


def markdown(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def text_of(page: Path) -> str:
    return "\n".join(markdown(page)) if page.suffix == ".ipynb" else page.read_text()


def bibliography_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text(), re.M))


def cited_keys() -> set[str]:
    found = set()
    for page in CHAPTERS + PAGES:
        for keys in CITATION.findall(text_of(page)):
            found.update(key.strip() for key in keys.split(","))
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_states_objectives_prerequisites_and_time_after_its_introduction(chapter):
    opening = markdown(chapter)[0]
    box = opening[opening.index(OBJECTIVES) :]
    assert "After this chapter you can" in box and box.count("\n- ") >= 2
    assert "**Prerequisites:**" in box
    time = box[box.index("**Time:**") :]
    assert "`ci`" in time and "`small`" in time


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_closes_with_two_to_four_exercises_each_with_a_hidden_solution(chapter):
    text = "\n".join(markdown(chapter))
    exercises = re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", text)
    assert 2 <= len(exercises) <= 4
    assert text.index("## Exercises") > text.index("## Summary")
    for label in exercises:
        solution = re.search(rf"```\{{solution(?:-start)?\}} {label}\n:class: dropdown", text)
        assert solution, f"{chapter.name}: exercise {label} has no solution behind a toggle"


def test_every_work_in_the_bibliography_is_cited_and_every_citation_is_listed():
    assert bibliography_keys() == cited_keys()


@pytest.mark.parametrize("page", CHAPTERS + PAGES, ids=lambda path: path.stem)
def test_a_page_that_mentions_a_chapter_links_to_it(page):
    text = MATH.sub("", FENCED.sub("", LINK.sub("", text_of(page))))
    unlinked = re.findall(r"\b[Cc]hapters? \d+", text)
    assert not unlinked, f"{page.name} names {unlinked} without a link"


def test_the_preface_links_the_notation_and_the_instructor_notes():
    preface = (BOOK / "00_preface.md").read_text()
    assert "(notation.md)" in preface and "(instructors.md)" in preface


def test_the_instructor_notes_list_every_exercise():
    notes = (BOOK / "instructors.md").read_text()
    for chapter in CHAPTERS:
        for label in re.findall(
            r"```\{exercise\}[^\n]*\n:label: (\S+)", "\n".join(markdown(chapter))
        ):
            assert f"{{ref}}`{label}`" in notes, f"instructors.md does not list {label}"
