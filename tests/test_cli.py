"""The command line: `python -m wmlib STAGE`, its options from the profiles, and its errors."""

import json
import shutil

import pytest
from command_line import SHRUNK, run_wmlib

from wmlib import __main__ as command
from wmlib import __version__, config, data_folder, stages
from wmlib.artefacts import MANIFEST, read_manifest

CI = config.get("ci")


@pytest.fixture
def built(built_by_all):
    """The data root `python -m wmlib all` built (shared: copy it before changing it)."""
    return built_by_all


def test_all_builds_every_stage(built):
    _, run = built
    assert run.returncode == 0, run.stderr[-3000:]
    for stage in stages.for_task(CI):
        assert f"\n{stage.name}: " in run.stdout


def test_every_stage_has_a_complete_manifest_with_its_summary(built, monkeypatch):
    data, _ = built
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(data))
    for stage in stages.for_task(CI):
        manifest = read_manifest(stage.directory(CI))
        assert manifest is not None and manifest["complete"], stage.name
        assert set(manifest["summary"]) == set(stage.summary), stage.name


def test_status_prints_a_row_per_stage(built):
    data, _ = built
    run = run_wmlib("status", "--profile", "ci", data=data)
    assert run.returncode == 0, run.stderr
    for stage in stages.for_task(CI):
        assert f"| {stage.label} | ci |" in run.stdout
    for name in stages.ROUND_STAGES:
        assert f"| {stages.BY_NAME[name].label}, round 1 | ci |" in run.stdout


def test_a_grown_generation_budget_continues_the_search(built, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(built[0], data)
    run = run_wmlib("controller", *SHRUNK, "--control.generations", "3", data=data)
    assert run.returncode == 0, run.stderr
    history = json.loads((data / "ci" / "carracing" / "controller" / "history.json").read_text())
    assert [record["generation"] for record in history] == [1, 2, 3]
    assert "generations 3" in run.stdout


def test_a_changed_setting_is_refused_in_one_line(built, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(built[0], data)
    run = run_wmlib("controller", *SHRUNK, "--control.weight_decay", "0.5", data=data)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
    assert "control.weight_decay 0.01 → 0.5" in run.stderr


def test_help_lists_every_setting_with_its_docstring(tmp_path):
    run = run_wmlib("--help", data=tmp_path)
    assert run.returncode == 0
    assert "--control.generations INT" in run.stdout
    assert "CMA-ES generations" in run.stdout


def test_workers_and_pool_settings_reach_the_stages(monkeypatch, data_root):
    seen = []
    monkeypatch.setattr(
        command, "run_stage", lambda stage, profile, workers: seen.append((profile.pool, workers))
    )
    pool_options = ["--pool.retries", "3", "--pool.step_seconds", "0.5"]
    assert command.main(["controller", "--profile", "ci", "--workers", "1000", *pool_options]) == 0
    assert seen == [(config.PoolConfig(step_seconds=0.5, retries=3), 1000)]


def test_an_unknown_profile_is_refused(tmp_path):
    run = run_wmlib("collect", "--profile", "huge", data=tmp_path)
    assert run.returncode == 2
    assert "Unknown profile 'huge'" in run.stderr and "ci, small, paper" in run.stderr


def test_an_unknown_task_is_refused_like_a_profile_before_any_folder_is_made(tmp_path):
    run = run_wmlib("collect", "--profile", "ci", "--task", "nothing", data=tmp_path / "data")
    assert run.returncode == 2
    assert "Unknown task 'nothing'" in run.stderr and "carracing, doom" in run.stderr
    assert not (tmp_path / "data").exists()


def test_an_artefact_of_another_major_version_is_refused_naming_both(tmp_path):
    episodes = tmp_path / "data" / "ci" / "carracing" / "episodes"
    episodes.mkdir(parents=True)
    manifest = {"profile": "ci", "settings": {}, "wmlib_version": "99.0.0", "complete": True}
    (episodes / MANIFEST).write_text(json.dumps(manifest))
    run = run_wmlib("collect", "--profile", "ci", data=tmp_path / "data")
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert "wmlib 99.0.0" in run.stderr and f"wmlib {__version__}" in run.stderr


def test_the_command_line_collects_the_profile(tmp_path):
    run = run_wmlib("collect", "--profile", "ci", data=tmp_path / "data")
    assert run.returncode == 0, run.stderr
    episodes = tmp_path / "data" / "ci" / "carracing" / "episodes"
    assert len(list(episodes.glob("episode_*.npz"))) == CI.rollouts.episodes
