"""Data policies, the episode file format, its validation, and resumable collection."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from wmlib import config, env, rollouts


@pytest.fixture(scope="module")
def episode():
    return rollouts.run_episode("brownian", seed=3, max_steps=15)


def assert_same_episode(first, second):
    for name in ("observations", "actions", "rewards", "positions", "track"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    for name in ("tiles_visited", "terminated", "truncated", "seed", "policy"):
        assert getattr(first, name) == getattr(second, name)


@pytest.mark.parametrize("name", list(rollouts.POLICIES))
def test_policies_act_within_the_action_box(name):
    played = rollouts.run_episode(name, seed=1, max_steps=12)
    assert played.steps == 12 and played.truncated and played.policy == name
    assert np.all(played.actions >= env.ACTION_LOW) and np.all(played.actions <= env.ACTION_HIGH)


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="random_weights, brownian, uniform"):
        rollouts.make_policy("greedy")


def test_random_weights_policy_drives_nearly_straight_at_half_gas():
    played = rollouts.run_episode("random_weights", seed=2, max_steps=30)
    np.testing.assert_allclose(played.actions.mean(axis=0), [0.0, 0.5, 0.0], atol=0.05)


def test_an_episode_is_fixed_by_its_seed(episode):
    assert_same_episode(episode, rollouts.run_episode("brownian", seed=3, max_steps=15))


def test_episode_shapes(episode):
    assert episode.observations.shape == (15, 64, 64, 3)
    assert episode.observations.dtype == np.uint8
    assert episode.actions.shape == (15, 3) and episode.rewards.shape == (15,)
    assert episode.positions.shape == (15, 2) and episode.track.shape[1] == 2


def test_save_then_load_round_trip(episode, tmp_path):
    path = rollouts.episode_path(tmp_path, 0)
    rollouts.save_episode(episode, path)
    assert_same_episode(rollouts.load_episode(path), episode)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


def test_truncated_file_is_named_in_the_error(episode, tmp_path):
    path = rollouts.episode_path(tmp_path, 0)
    rollouts.save_episode(episode, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(rollouts.DataFileError, match="episode_00000.npz.*not a readable"):
        rollouts.load_episode(path)


def write_arrays(path, episode, **overrides):
    arrays = {
        name: np.asarray(getattr(episode, name)) for name in rollouts.EPISODE_SCHEMA
    } | overrides
    np.savez_compressed(path, **arrays)


def test_wrong_dtype_is_named_in_the_error(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    write_arrays(path, episode, observations=episode.observations.astype(np.float32) / 255)
    with pytest.raises(rollouts.DataFileError, match="episode_00000.npz.*observations has dtype"):
        rollouts.load_episode(path)


def test_mismatched_lengths_are_refused(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    write_arrays(path, episode, rewards=episode.rewards[:-1])
    with pytest.raises(rollouts.DataFileError, match="rewards has 14 steps"):
        rollouts.load_episode(path)


def test_missing_array_is_refused(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    np.savez_compressed(path, observations=episode.observations)
    with pytest.raises(rollouts.DataFileError, match="missing arrays"):
        rollouts.load_episode(path)


def test_pickled_objects_are_never_loaded(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    write_arrays(path, episode, policy=np.array([{"evil": True}], dtype=object))
    with pytest.raises(rollouts.DataFileError, match="not a readable data file"):
        rollouts.load_episode(path)


def test_collect_skips_episodes_on_disk(tmp_path):
    settings = config.RolloutConfig(episodes=2, max_steps=5, policy="uniform")
    first = rollouts.collect(tmp_path, settings, workers=1)
    mtimes = [path.stat().st_mtime_ns for path in first]
    (tmp_path / ".episode_00002.npz.partial").write_bytes(b"half an episode")
    more = config.RolloutConfig(episodes=3, max_steps=5, policy="uniform")
    paths = rollouts.collect(tmp_path, more, workers=1)
    assert [path.stat().st_mtime_ns for path in paths[:2]] == mtimes
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]
    assert [rollouts.load_episode(path).seed for path in paths] == [0, 1, 2]


def test_parallel_collection_equals_serial(tmp_path):
    settings = config.RolloutConfig(episodes=2, max_steps=5)
    serial = rollouts.collect(tmp_path / "serial", settings, workers=1)
    parallel = rollouts.collect(tmp_path / "parallel", settings, workers=2)
    for one, other in zip(serial, parallel, strict=True):
        assert_same_episode(rollouts.load_episode(one), rollouts.load_episode(other))


def test_killed_collection_resumes_without_loss_or_duplicates(data_root):
    """Kill `python -m wmlib collect` mid-way, run it again, and get every episode once."""
    directory = data_root / "ci" / "episodes"
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
        rollouts.load_episode(path)

    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    paths = sorted(directory.glob("episode_*.npz"))
    assert len(paths) == episodes and not list(directory.glob(".*.partial"))
    assert [rollouts.load_episode(path).seed for path in paths] == list(range(episodes))
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in survivors.items())
