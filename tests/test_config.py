"""Profiles: selection by WM_PROFILE, clear errors, the paper's numbers, documented fields."""

import ast
import dataclasses
import inspect

import pytest
from test_book import BOOK_COLUMN

from wmlib import config, data_folder, pipeline
from wmlib.errors import WorldModelsError


def test_default_profile_is_small(monkeypatch):
    monkeypatch.delenv(config.PROFILE_VARIABLE, raising=False)
    assert config.active().name == "small"


@pytest.mark.parametrize("name", ["ci", "small", "paper"])
def test_profile_is_chosen_by_environment_variable(monkeypatch, name):
    monkeypatch.setenv(config.PROFILE_VARIABLE, name)
    assert config.active().name == name


@pytest.mark.parametrize("name", ["ci", "small", "paper"])
def test_the_banner_is_two_lines_that_fit_a_chapter_column(monkeypatch, name):
    monkeypatch.delenv(data_folder.DATA_VARIABLE, raising=False)
    monkeypatch.chdir(data_folder.data_root().parent / "book")
    lines = config.get(name).describe().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"Profile {name!r}: ")
    assert max(len(line) for line in lines) <= BOOK_COLUMN


def test_unknown_profile_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv(config.PROFILE_VARIABLE, "huge")
    with pytest.raises(config.ProfileError) as error:
        config.active()
    message = str(error.value)
    assert "'huge'" in message
    for name in ("ci", "small", "paper"):
        assert name in message


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.get("ci").rollouts.episodes = 1


def test_paper_profile_has_the_papers_settings():
    paper = config.get("paper")
    assert (paper.frame.dashboard_row, paper.frame.size) == (84, 64)
    assert (paper.rollouts.episodes, paper.rollouts.max_steps) == (10_000, 1000)
    assert paper.rollouts.policy == "cauchy_weights"  # the paper's random V, M and C
    assert paper.vision.latent_size * paper.vision.kl_tolerance == 16
    assert (paper.vision.learning_rate, paper.vision.batch_size) == (1e-4, 100)
    assert (paper.memory.hidden_units, paper.memory.mixtures) == (256, 5)
    assert (paper.memory.sequence_length, paper.memory.batch_size) == (999, 100)
    assert (paper.memory.learning_rate, paper.memory.gradient_clip) == (1e-3, 1.0)
    control = paper.control
    assert (control.population_size, control.episodes_per_candidate) == (64, 16)
    assert (control.initial_step_size, control.weight_decay) == (0.1, 0.01)
    # train.py scores the mean every 25 generations on 64 workers × 16 episodes
    assert (control.mean_evaluation_interval, control.mean_evaluation_episodes) == (25, 1024)
    assert control.evaluation_episodes == 100


def test_budgets_grow_from_ci_to_small_to_paper():
    ci, small, paper = (config.get(name) for name in ("ci", "small", "paper"))
    assert ci.rollouts.episodes < small.rollouts.episodes < paper.rollouts.episodes
    assert ci.control.generations < small.control.generations < paper.control.generations


def _undocumented_fields(cls) -> list[str]:
    """Fields of a dataclass not directly followed by a docstring in its source."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    documented = {
        statement.target.id
        for statement, following in zip(body, body[1:], strict=False)
        if isinstance(statement, ast.AnnAssign)
        and isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
    }
    return [field.name for field in dataclasses.fields(cls) if field.name not in documented]


@pytest.mark.parametrize(
    "cls",
    [
        config.FrameConfig,
        config.RolloutConfig,
        config.VisionConfig,
        config.MemoryConfig,
        config.ControlConfig,
        config.Profile,
    ],
)
def test_every_field_has_a_docstring(cls):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert _undocumented_fields(cls) == []


def test_data_root_follows_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(tmp_path))
    assert config.get("ci").data_dir == tmp_path / "ci" / "carracing"


@pytest.mark.parametrize("where", ["a file", "a folder under a file"])
def test_a_data_root_that_cannot_hold_the_artefacts_is_named_with_the_fix(
    monkeypatch, tmp_path, where
):
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    root = file if where == "a file" else file / "data"
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(root))
    assert data_folder.data_root() == root  # only looked up: the check comes with the first write
    with pytest.raises(WorldModelsError, match=f"{root} cannot hold the artefacts.*Set WM_DATA"):
        pipeline.ensure_episodes(config.get("ci"))


def test_a_writable_data_root_is_created(monkeypatch, tmp_path):
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(tmp_path / "new" / "data"))
    assert data_folder.writable_data_root().is_dir()
