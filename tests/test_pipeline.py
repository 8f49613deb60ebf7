"""The artefact cache: build once, reuse, refuse stale settings, resume, continue a grown budget."""

import dataclasses
import json

import numpy as np
import pytest

from wmlib import artefacts, files, pipeline, rollouts


def test_ensure_episodes_builds_then_reuses(tiny_profile):
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    assert len(paths) == 3 and all(path.exists() for path in paths)
    manifest = pipeline.read_manifest(pipeline.episodes_dir(tiny_profile))
    assert manifest["complete"] and manifest["profile"] == "tiny"
    assert manifest["settings"]["rollouts"]["episodes"] == 3
    assert manifest["summary"]["episodes"] == 3 and manifest["summary"]["steps"] == 30
    returns = [files.load_episode(path).rewards.sum() for path in paths]
    assert manifest["summary"]["return_mean"] == pytest.approx(np.mean(returns), abs=0.05)
    assert manifest["summary"]["return_std"] == pytest.approx(np.std(returns), abs=0.05)
    mtimes = [path.stat().st_mtime_ns for path in paths]
    assert pipeline.ensure_episodes(tiny_profile, workers=1) == paths
    assert [path.stat().st_mtime_ns for path in paths] == mtimes


def test_artefacts_live_in_a_folder_per_profile_and_task(tiny_profile, data_root):
    assert pipeline.episodes_dir(tiny_profile) == data_root / "tiny" / "carracing" / "episodes"


def test_other_settings_are_refused_with_the_fix(tiny_profile):
    pipeline.ensure_episodes(tiny_profile, workers=1)
    changed = dataclasses.replace(
        tiny_profile, rollouts=dataclasses.replace(tiny_profile.rollouts, max_steps=11)
    )
    with pytest.raises(artefacts.ArtefactMismatchError, match="changed: rollouts.*Delete"):
        pipeline.ensure_episodes(changed, workers=1)


def test_more_episodes_continue_the_collection(tiny_profile):
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    mtimes = [path.stat().st_mtime_ns for path in paths]
    more = dataclasses.replace(
        tiny_profile, rollouts=dataclasses.replace(tiny_profile.rollouts, episodes=4)
    )
    grown = pipeline.ensure_episodes(more, workers=1)
    assert grown[:3] == paths and [path.stat().st_mtime_ns for path in paths] == mtimes
    manifest = pipeline.read_manifest(pipeline.episodes_dir(more))
    assert manifest["complete"] and manifest["summary"]["episodes"] == 4


def test_an_interrupted_build_resumes(tiny_profile):
    directory = pipeline.episodes_dir(tiny_profile)
    directory.mkdir(parents=True)
    settings = dataclasses.replace(tiny_profile.rollouts, episodes=1)
    rollouts.collect(directory, tiny_profile.task, settings, workers=1)
    first = files.episode_path(directory, 0).stat().st_mtime_ns
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    assert len(paths) == 3 and paths[0].stat().st_mtime_ns == first


def test_a_corrupt_manifest_is_rebuilt_keeping_the_episodes_recorded(tiny_profile, capsys):
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    recorded = [path.stat().st_mtime_ns for path in paths]
    directory = pipeline.episodes_dir(tiny_profile)
    (directory / artefacts.MANIFEST).write_text("{not json")
    assert pipeline.ensure_episodes(tiny_profile, workers=1) == paths
    assert [path.stat().st_mtime_ns for path in paths] == recorded
    assert artefacts.read_manifest(directory)["complete"]
    assert "manifest.json is not a valid manifest (not valid JSON" in capsys.readouterr().err


def test_manifest_is_valid_json_on_disk(tiny_profile):
    pipeline.ensure_episodes(tiny_profile, workers=1)
    text = (pipeline.episodes_dir(tiny_profile) / artefacts.MANIFEST).read_text()
    assert json.loads(text)["wmlib_version"]
