"""A Sphinx extension that writes each of a page's inline scripts once.

Sphinx 7.4 keeps an inline script that an extension adds after the HTML builder has started
twice: once as the builder received it (file name None) and once as its registry holds it (file
name ''), which its de-duplication tells apart. sphinx-thebe's configuration is such a script,
and its `const THEBE_JS_URL`, declared twice, stopped every page with a SyntaxError.
"""

from sphinx.application import Sphinx


def _identity(script) -> tuple:
    """What makes two of a page's scripts the same script, whatever their file name's form."""
    return (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))


def keep_first_of_each(app, pagename, templatename, context, doctree) -> None:
    """Drop the repeats from the scripts the page's template will write, keeping their order."""
    scripts = {}
    for script in context.get("script_files", []):
        scripts.setdefault(_identity(script), script)
    context["script_files"] = list(scripts.values())


def setup(app: Sphinx) -> dict:
    # After every other handler, so that scripts added per page are seen too.
    app.connect("html-page-context", keep_first_of_each, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
