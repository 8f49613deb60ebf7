"""The files the pipeline writes: episodes and latents round-trip, and bad files name themselves."""

import errno
import io
import os
import zipfile

import numpy as np
import pytest
from episode_checks import assert_same_episode

from wmlib import files
from wmlib.errors import WorldModelsError


def test_save_then_load_round_trip_keeps_the_tasks_extras(episode, tmp_path):
    path = files.episode_path(tmp_path, 0)
    files.save_episode(episode, path)
    loaded = files.load_episode(path)
    assert_same_episode(loaded, episode)
    assert set(loaded.extras) == {"positions", "track", "tiles_visited"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left


def test_truncated_file_is_named_in_the_error(episode, tmp_path):
    path = files.episode_path(tmp_path, 0)
    files.save_episode(episode, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(files.DataFileError, match="episode_00000.npz.*not a readable"):
        files.load_episode(path)


def write_arrays(path, episode, **overrides):
    """An episode file written by hand, with some arrays replaced."""
    arrays = {name: np.asarray(getattr(episode, name)) for name in files.EPISODE_SCHEMA}
    np.savez_compressed(path, **(arrays | overrides))


def test_wrong_dtype_is_named_in_the_error(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    write_arrays(path, episode, observations=episode.observations.astype(np.float32) / 255)
    with pytest.raises(files.DataFileError, match="episode_00000.npz.*observations has dtype"):
        files.load_episode(path)


def test_mismatched_lengths_are_refused(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    write_arrays(path, episode, rewards=episode.rewards[:-1])
    with pytest.raises(files.DataFileError, match="rewards has 14 steps"):
        files.load_episode(path)


def test_missing_array_is_refused(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    np.savez_compressed(path, observations=episode.observations)
    with pytest.raises(files.DataFileError, match="missing arrays"):
        files.load_episode(path)


def test_pickled_objects_are_never_loaded(episode, tmp_path):
    path = tmp_path / "episode_00000.npz"
    write_arrays(path, episode, policy=np.array([{"evil": True}], dtype=object))
    with pytest.raises(files.DataFileError, match="holds pickled Python objects \\(policy\\)"):
        files.load_episode(path)


def test_count_steps_reads_the_length_of_every_episode(episode, tmp_path):
    paths = [files.episode_path(tmp_path, index) for index in range(2)]
    for path in paths:
        files.save_episode(episode, path)
    assert files.count_steps(paths) == 2 * episode.steps


def test_latents_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    mean, log_variance = rng.normal(size=(2, 5, 32)).astype(np.float32)
    actions = rng.uniform(size=(5, 3)).astype(np.float32)
    path = tmp_path / "episode_00000.npz"
    files.save_latents(path, mean, log_variance, actions)
    loaded = files.load_latents(path)
    for name, value in {"mean": mean, "log_variance": log_variance, "actions": actions}.items():
        np.testing.assert_array_equal(loaded[name], value)


def test_bad_latents_file_is_named(tmp_path):
    path = tmp_path / "episode_00000.npz"
    files.write_npz(path, {"mean": np.zeros((5, 32), np.float32)})
    with pytest.raises(files.DataFileError, match="episode_00000.npz.*missing arrays"):
        files.load_latents(path)


def test_latents_of_different_lengths_are_refused(tmp_path):
    path = tmp_path / "episode_00000.npz"
    zeros = np.zeros((5, 32), np.float32)
    files.save_latents(path, zeros, zeros, np.zeros((4, 3), np.float32))
    with pytest.raises(files.DataFileError, match="arrays of different lengths"):
        files.load_latents(path)


def test_a_truncated_episode_is_named_when_its_steps_are_counted(episode, tmp_path):
    path = files.episode_path(tmp_path, 0)
    files.save_episode(episode, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(files.DataFileError, match="episode_00000.npz is not a readable episode"):
        files.count_steps([path])


def test_random_bytes_are_not_an_episode_and_pickle_is_never_suggested(tmp_path):
    path = files.episode_path(tmp_path, 0)
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    for read in (files.load_episode, files.check_episode):
        with pytest.raises(files.DataFileError) as error:
            read(path)
        message = str(error.value)
        assert f"{path} is not a readable episode archive" in message
        assert "python -m wmlib collect" in message
        assert "pickle" not in message and "unsafe" not in message


def damage_frames(path):
    """Rewrite an episode file with every header whole but only half of the frames' data."""
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, value)
            data = buffer.getvalue()
            archive.writestr(
                f"{name}.npy", data[: len(data) // 2] if name == "observations" else data
            )


def test_episodes_are_checked_from_their_headers_and_damage_past_them_is_named(episode, tmp_path):
    path = files.episode_path(tmp_path, 0)
    files.save_episode(episode, path)
    damage_frames(path)
    assert files.count_steps([path]) == episode.steps  # the headers alone are read
    with pytest.raises(files.DataFileError, match="episode_00000.npz is damaged.*collect"):
        files.load_episode(path)


def test_a_full_disk_says_so_and_leaves_no_partial_file(tmp_path):
    def write_until_the_disk_is_full(partial):
        partial.write_bytes(b"half an episode")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    path = tmp_path / "episode_00000.npz"
    with pytest.raises(
        WorldModelsError, match=f"No space left on the device holding {path}.*WM_DATA"
    ):
        files.write_atomically(path, write_until_the_disk_is_full)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    def write_then_fail(partial):
        partial.write_bytes(b"half a file")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_atomically(tmp_path / "history.json", write_then_fail)
    assert list(tmp_path.iterdir()) == []
