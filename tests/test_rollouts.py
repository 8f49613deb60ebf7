"""Recording episodes with a data policy, and resumable, parallel collection."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from episode_checks import assert_same_episode

from wmlib import config, files, pipeline, rollouts


def test_an_episode_is_fixed_by_its_seed(episode):
    assert_same_episode(episode, rollouts.run_episode("carracing", "brownian", 3, 15))


def test_episode_shapes(episode):
    assert episode.observations.shape == (15, 64, 64, 3)
    assert episode.observations.dtype == np.uint8
    assert episode.actions.shape == (15, 3) and episode.rewards.shape == (15,)
    assert episode.extras["positions"].shape == (15, 2)
    assert episode.extras["track"].shape[1] == 2


def test_record_episodes_returns_them_in_seed_order():
    played = rollouts.record_episodes("carracing", "uniform", [4, 2], max_steps=5, workers=1)
    assert [episode.seed for episode in played] == [4, 2]


def test_collect_skips_episodes_on_disk(tmp_path):
    settings = config.RolloutConfig(episodes=2, max_steps=5, policy="uniform")
    first = rollouts.collect(tmp_path, "carracing", settings, workers=1)
    mtimes = [path.stat().st_mtime_ns for path in first]
    (tmp_path / ".partial.episode_00002.npz").write_bytes(b"half an episode")
    more = config.RolloutConfig(episodes=3, max_steps=5, policy="uniform")
    paths = rollouts.collect(tmp_path, "carracing", more, workers=1)
    assert [path.stat().st_mtime_ns for path in paths[:2]] == mtimes
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]
    assert [files.load_episode(path).seed for path in paths] == [0, 1, 2]


def test_parallel_collection_equals_serial(tmp_path):
    settings = config.RolloutConfig(episodes=2, max_steps=5)
    serial = rollouts.collect(tmp_path / "serial", "carracing", settings, workers=1)
    parallel = rollouts.collect(tmp_path / "parallel", "carracing", settings, workers=2)
    for one, other in zip(serial, parallel, strict=True):
        assert_same_episode(files.load_episode(one), files.load_episode(other))


def test_killed_collection_resumes_without_loss_or_duplicates(data_root):
    """Kill `python -m wmlib collect` mid-way, run it again, and get every episode once."""
    directory = data_root / "ci" / "carracing" / "episodes"
    episodes = config.get("ci").rollouts.episodes
    command = [sys.executable, "-m", "wmlib", "collect", "--profile", "ci", "--workers", "1"]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(directory.glob("episode_*.npz"))) < 2:
        assert process.poll() is None and time.monotonic() < deadline, "collection never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    survivors = {path: path.stat().st_mtime_ns for path in directory.glob("episode_*.npz")}
    assert 2 <= len(survivors) < episodes
    for path in survivors:
        files.load_episode(path)

    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    paths = sorted(directory.glob("episode_*.npz"))
    assert len(paths) == episodes and not list(directory.glob(".partial.*"))
    assert [files.load_episode(path).seed for path in paths] == list(range(episodes))
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in survivors.items())


def test_collect_records_an_invalid_episode_anew_and_names_it(tmp_path, capsys):
    settings = config.RolloutConfig(episodes=2, max_steps=5, policy="uniform")
    paths = rollouts.collect(tmp_path, "carracing", settings, workers=1)
    recorded = files.load_episode(paths[1])
    paths[1].write_bytes(b"not an episode")
    kept = paths[0].stat().st_mtime_ns
    rollouts.collect(tmp_path, "carracing", settings, workers=1)
    named = [line for line in capsys.readouterr().out.splitlines() if "episode_" in line]
    problem = f"{paths[1]} is not a readable episode archive (.npz): File is not a zip file."
    assert named == [f"{problem} It is recorded anew."]
    assert_same_episode(files.load_episode(paths[1]), recorded)
    assert paths[0].stat().st_mtime_ns == kept


@pytest.mark.parametrize("damage", ["delete", "wrong dtype"])
def test_a_finished_collection_records_a_deleted_or_invalid_episode_again(tiny_profile, damage):
    """The fix a bad episode's message gives (delete it, collect again) works: the collection's
    manifest says it is finished, but its files are checked."""
    paths = pipeline.ensure_episodes(tiny_profile, workers=1)
    recorded = files.load_episode(paths[1])
    if damage == "delete":
        paths[1].unlink()
    else:
        arrays = dict(np.load(paths[1]))
        files.write_npz(paths[1], arrays | {"observations": arrays["observations"] / 255})
    assert pipeline.ensure_episodes(tiny_profile, workers=1) == paths
    assert_same_episode(files.load_episode(paths[1]), recorded)
    assert pipeline.read_manifest(pipeline.episodes_dir(tiny_profile))["complete"]
