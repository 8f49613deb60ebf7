"""The built book as a reader's browser shows it (DESIGN.md §4): every equation typeset, the
widgets drawn, no script stopped by an error, and nothing requested that the book does not hold,
so that it reads the same offline. Debian's Chromium, driven by Playwright, opens the pages
served from localhost.

Without Chromium these tests skip, except in CI (`CI=true`), where they fail: CI must run them.
"""

import functools
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from local_server import served

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    *(f"book/{source.stem}.html" for source in sorted((ROOT / "book").glob("[0-9][0-9]_*"))),
    "search.html",
    "genindex.html",
]
"""Every page of the built book: the table of contents' (the chapters, the preface, the methods),
the search page and the index; `index.html` only redirects to the preface."""

TYPESET = """async () => {
    if (window.MathJax?.startup?.promise) await MathJax.startup.promise;
    const equations = [...document.querySelectorAll(".math")];
    const typeset = (equation) => equation.querySelector("mjx-container") !== null;
    const raw = equations.filter((equation) => !typeset(equation));
    return {
        typeset: equations.filter(typeset).length,
        raw: raw.map((equation) => equation.textContent),
    };
}"""
"""Waits for MathJax's first pass, if MathJax loaded at all, then sorts the page's equations
(Sphinx's `.math` elements) into those it typeset and those left as LaTeX."""


@dataclass
class Visit:
    """What the browser saw of one page."""

    typeset: int
    """Equations MathJax typeset."""
    raw: list[str]
    """Equations left as LaTeX."""
    outside: list[str]
    """Requests to any other host than the book's (refused, so that none reaches the network)."""
    failed: list[str]
    """Requests that failed, or that the book's server answered with an error."""
    errors: list[str]
    """Errors that stopped one of the page's scripts (uncaught exceptions, syntax errors)."""


@pytest.fixture(scope="module")
def book_url(built_book):
    """The built book, served on localhost while the module's tests run."""
    with served(built_book) as url:
        yield url


@pytest.fixture(scope="module")
def seen(browser, book_url):
    """What the browser saw of a page, each page opened once, when a test first asks."""
    return functools.cache(lambda page: open_page(browser, f"{book_url}/{page}"))


def open_page(browser, url: str) -> Visit:
    """Open `url`, let every script run and every request settle, and record what happened."""
    page = browser.new_page()
    book = urlsplit(url).netloc
    outside, failed, errors, pending = [], [], [], set()

    def keep_to_the_book(route):
        if urlsplit(route.request.url).netloc == book:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def note_error(response):
        if response.status >= 400:
            failed.append(f"{response.url}: HTTP {response.status}")

    def note_failure(request):
        pending.discard(request)
        failed.append(f"{request.url}: {request.failure}")

    page.route("**/*", keep_to_the_book)
    page.on("request", lambda request: pending.add(request))
    page.on("requestfinished", lambda request: pending.discard(request))
    page.on("requestfailed", note_failure)
    page.on("response", note_error)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    maths = page.evaluate(TYPESET)
    settle(page, pending)
    page.close()
    return Visit(maths["typeset"], maths["raw"], outside, failed, errors)


def settle(page, pending: set) -> None:
    """Wait until no request has been pending for half a second, 30 s at most: the scripts' own
    requests (fonts for the typeset equations and the drawn widgets) start after the load."""
    quiet_steps = 0
    for _ in range(300):  # steps of 100 ms
        page.wait_for_timeout(100)
        quiet_steps = 0 if pending else quiet_steps + 1
        if quiet_steps == 5:
            return
    raise TimeoutError(f"requests still pending after 30 s: {[each.url for each in pending]}")


@pytest.mark.parametrize("page", PAGES)
def test_every_equation_is_typeset(seen, built_book, page):
    equations = (built_book / page).read_text().count('class="math notranslate')
    visit = seen(page)
    assert visit.raw == []
    assert visit.typeset == equations


@pytest.mark.parametrize("page", PAGES)
def test_a_page_requests_only_the_book_and_gets_all_of_it(seen, page):
    visit = seen(page)
    assert visit.outside == []
    assert visit.failed == []


@pytest.mark.parametrize("page", PAGES)
def test_a_pages_scripts_run_without_an_error(seen, page):
    assert seen(page).errors == []


def test_widgets_are_drawn_in_the_built_page(browser, book_url):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{book_url}/book/01_mdp_carracing.html")
    page.wait_for_selector(".jupyter-widgets.widget-hprogress")
    settle(page, set())
    bars = page.locator(".jupyter-widgets.widget-hprogress").count()
    labels = page.locator(".jupyter-widgets.widget-html").count()
    page.close()
    assert (bars, labels) == (4, 8)  # the recording's progress bars, each drawn once
    assert errors == []  # drawing a label typesets it (`_static/widgets/mathjax-hub.js`)
