"""The artefact cache: build once, reuse, refuse stale settings, resume; and the command line."""

import dataclasses
import json
import subprocess
import sys

import pytest

from wmlib import config, pipeline, rollouts


def test_ensure_episodes_builds_then_reuses(tiny_profile):
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    assert len(paths) == 3 and all(path.exists() for path in paths)
    manifest = pipeline.read_manifest(pipeline.episodes_dir(tiny_profile))
    assert manifest["complete"] and manifest["profile"] == "tiny"
    assert manifest["settings"]["rollouts"]["episodes"] == 3
    assert manifest["summary"]["episodes"] == 3 and manifest["summary"]["steps"] == 30
    mtimes = [path.stat().st_mtime_ns for path in paths]
    assert pipeline.ensure_episodes(tiny_profile, workers=1) == paths
    assert [path.stat().st_mtime_ns for path in paths] == mtimes


def test_other_settings_are_refused_with_the_fix(tiny_profile):
    pipeline.ensure_episodes(tiny_profile, workers=1)
    changed = dataclasses.replace(
        tiny_profile, rollouts=dataclasses.replace(tiny_profile.rollouts, max_steps=11)
    )
    with pytest.raises(pipeline.ArtefactMismatchError, match="changed: rollouts.*Delete"):
        pipeline.ensure_episodes(changed, workers=1)


def test_an_interrupted_build_resumes(tiny_profile):
    directory = pipeline.episodes_dir(tiny_profile)
    directory.mkdir(parents=True)
    settings = dataclasses.replace(tiny_profile.rollouts, episodes=1)
    rollouts.collect(directory, settings, workers=1)
    first = rollouts.episode_path(directory, 0).stat().st_mtime_ns
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    assert len(paths) == 3 and paths[0].stat().st_mtime_ns == first


def test_a_corrupt_manifest_names_the_fix(tiny_profile):
    directory = pipeline.episodes_dir(tiny_profile)
    directory.mkdir(parents=True)
    (directory / pipeline.MANIFEST).write_text("{not json")
    with pytest.raises(pipeline.ArtefactMismatchError, match="manifest.json is not valid JSON"):
        pipeline.ensure_episodes(tiny_profile, workers=1)


def test_manifest_is_valid_json_on_disk(tiny_profile):
    pipeline.ensure_episodes(tiny_profile, workers=1)
    text = (pipeline.episodes_dir(tiny_profile) / pipeline.MANIFEST).read_text()
    assert json.loads(text)["wmlib_version"]


def test_command_line_refuses_an_unknown_profile(data_root):
    result = subprocess.run(
        [sys.executable, "-m", "wmlib", "collect", "--profile", "huge"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Unknown profile 'huge'" in result.stderr and "ci, small, paper" in result.stderr


def test_command_line_collects_the_profile(data_root):
    result = subprocess.run(
        [sys.executable, "-m", "wmlib", "collect", "--profile", "ci"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    episodes = config.get("ci").rollouts.episodes
    assert len(list((data_root / "ci" / "episodes").glob("episode_*.npz"))) == episodes
