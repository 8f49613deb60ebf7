"""The library's house rules: modules in layers that import only downwards, none too long, and
no environment named outside its task module."""

import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parent.parent / "wmlib"
LAYERS = [
    {"errors"},
    {
        "data_folder",
        "config",
        "profiles",
        "files",
        "workers",
        "cluster",
        "evolution",
        "toy_data",
        "plots",
        "scores",
        "browser",
        "release",
    },
    {"env", "env.frames", "env.carracing", "env.fast_carracing", "env.doom", "runtime"},
    {"rollouts", "training", "controller", "media"},
    {"vision", "frame_store", "mixture", "search", "lstm"},
    {"memory"},
    {"agent", "widgets", "dream"},
    {"artefacts"},
    {"pipeline.episodes", "pipeline.model", "pipeline.dream", "pipeline.controller"},
    {"pipeline.rounds", "pipeline.shapes", "pipeline.temperatures"},
    {"pipeline"},
    {"stages", "options"},
    {"status"},
    {"__main__"},
]
"""The modules in layers, lowest first: a module imports from its own layer's modules or lower
ones only (a task module imports `env`'s interface, `env` imports its tasks lazily; the world
model's stages and C's share a layer, as a later round's episodes are driven by the previous
round's C; `config` reads its profiles from `profiles`, which is built from its dataclasses)."""
LAYER = {module: index for index, layer in enumerate(LAYERS) for module in layer}
MODULES = {
    path: ".".join(path.relative_to(LIBRARY).with_suffix("").parts).removesuffix(".__init__")
    for path in sorted(LIBRARY.rglob("*.py"))
    if path.name != "__init__.py" or path.parent != LIBRARY
}


def imported_modules(path: Path) -> set[str]:
    """The `wmlib` modules a source file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wmlib"):
            base = node.module.removeprefix("wmlib").removeprefix(".")
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.add(candidate if candidate in LAYER else base)
        elif isinstance(node, ast.Import):
            found |= {
                alias.name.removeprefix("wmlib.")
                for alias in node.names
                if alias.name.startswith("wmlib.")
            }
    return found - {""}


def test_every_module_has_a_layer():
    assert set(MODULES.values()) == set(LAYER)


@pytest.mark.parametrize("path", list(MODULES), ids=lambda path: MODULES[path])
def test_imports_only_go_down(path):
    module = MODULES[path]
    upward = {
        imported
        for imported in imported_modules(path)
        if LAYER[imported] > LAYER[module] or (imported == module)
    }
    assert not upward, f"{module} imports from a higher layer: {sorted(upward)}"


LONGEST = 320
"""Lines a module may have, beyond which it holds more than one idea."""
LONGER = {"config": 340}
"""Modules allowed more: the settings, one dataclass per stage, are mostly their docstrings."""


@pytest.mark.parametrize("path", list(MODULES), ids=lambda path: MODULES[path])
def test_no_module_is_too_long(path):
    assert len(path.read_text().splitlines()) <= LONGER.get(MODULES[path], LONGEST)


@pytest.mark.parametrize("path", list(MODULES), ids=lambda path: MODULES[path])
def test_only_a_task_module_names_its_environment(path):
    if path.parent.name == "env" or path.name in ("config.py", "profiles.py"):
        return  # the tasks themselves, and the profiles that choose one
    names = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Name | ast.Attribute)
    }
    strings = {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " " not in node.value
    }
    tasks = ("carracing", "doom")
    assert not {name for name in names | strings if any(task in name.lower() for task in tasks)}
