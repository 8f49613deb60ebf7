"""V's frame store: files of whole frames, rewritten when cut, read back in a seeded order."""

import dataclasses

import numpy as np
import pytest

from wmlib import config, files, frame_store, rollouts, training, vision
from wmlib.runtime import keras, tf

TINY = config.VisionConfig(batch_size=8, epochs=1, shuffle_buffer=64)


def synthetic_episodes(directory, count, steps=12):
    """Episode files whose frames all have the grey level 10 · (episode index + 1)."""
    directory.mkdir(parents=True, exist_ok=True)
    template = rollouts.run_episode("carracing", "uniform", seed=0, max_steps=steps)
    paths = []
    for index in range(count):
        frames = np.full_like(template.observations, 10 * (index + 1))
        episode = dataclasses.replace(template, observations=frames, seed=index)
        paths.append(files.episode_path(directory, index))
        files.save_episode(episode, paths[-1])
    return paths


def test_frame_dataset_mixes_episodes(tmp_path):
    paths = stored_episodes(tmp_path, 4)
    batches = list(frame_store.frame_dataset(paths, TINY))
    assert len(batches) == 4 * 12 // TINY.batch_size
    levels = {round(float(value) * 255) for value in np.unique(batches[0].numpy())}
    assert len(levels) > 1 and levels <= {10, 20, 30, 40}


def test_each_epoch_has_its_own_order_whichever_epoch_training_starts_at(tmp_path):
    paths = stored_episodes(tmp_path, 4)
    settings = dataclasses.replace(TINY, epochs=2)
    from_the_start = [batch.numpy() for batch in frame_store.training_frames(paths, settings, 0)]
    from_epoch_one = [batch.numpy() for batch in frame_store.training_frames(paths, settings, 1)]
    per_epoch = len(from_the_start) // 2
    assert len(from_epoch_one) == per_epoch
    np.testing.assert_array_equal(from_the_start[per_epoch:], from_epoch_one)
    assert not np.array_equal(from_the_start[:per_epoch], from_epoch_one)


def test_training_resumes_from_its_last_epoch(tmp_path):
    paths = stored_episodes(tmp_path, 3)
    settings = dataclasses.replace(TINY, epochs=2)
    steps = 3 * 12 // settings.batch_size
    directory = tmp_path / "vae"

    def data(first_epoch):
        return frame_store.training_frames(paths, settings, first_epoch)

    first, history = training.fit_resumable(
        lambda: vision.build_vae(settings), data, steps, 1, directory
    )
    assert [row["epoch"] for row in history] == [1]
    after_one = [weight.numpy() for weight in first.weights]

    def never_build():
        raise AssertionError("resuming must load the checkpoint, not build a new model")

    resumed, history = training.fit_resumable(never_build, data, steps, 2, directory)
    assert [row["epoch"] for row in history] == [1, 2]
    assert int(resumed.optimizer.iterations.numpy()) == 2 * steps
    assert any(
        not np.array_equal(a, b.numpy()) for a, b in zip(after_one, resumed.weights, strict=True)
    )


def test_an_epoch_killed_midway_resumes_from_its_last_saved_step_as_if_never_killed(tmp_path):
    """A file found damaged at the third batch stops training with the checkpoint saved after
    the second (save_every=0: after every batch); once the file is back, the epoch goes on from
    there and ends with the weights of a training that was never stopped."""
    paths = stored_episodes(tmp_path, 3)
    steps = 3 * 12 // TINY.batch_size

    def build():
        keras.utils.set_random_seed(0)
        return vision.build_vae(TINY)

    def data(first_epoch):
        return frame_store.training_frames(paths, TINY, first_epoch)

    def damaged_at_third_batch(first_epoch):
        def damaged():
            raise files.DataFileError("a file damaged on purpose")
            yield

        good = data(first_epoch).take(2)
        return good.concatenate(
            tf.data.Dataset.from_generator(damaged, output_signature=good.element_spec)
        )

    straight, _ = training.fit_resumable(build, data, steps, 1, tmp_path / "straight")
    killed = tmp_path / "killed"
    with pytest.raises(files.DataFileError, match="damaged on purpose"):
        training.fit_resumable(build, damaged_at_third_batch, steps, 1, killed, save_every=0)
    saved = training.load_model(killed / "checkpoint.keras")
    assert int(saved.optimizer.iterations.numpy()) == 2
    resumed, history = training.fit_resumable(saved_only, data, steps, 1, killed)
    assert [row["epoch"] for row in history] == [1]
    for one, other in zip(straight.weights, resumed.weights, strict=True):
        np.testing.assert_array_equal(one.numpy(), other.numpy())


def saved_only():
    raise AssertionError("resuming must load the checkpoint, not build a new model")


def stored_episodes(directory, count, steps=12):
    """`synthetic_episodes` written to a frame store beside them; the stored files' paths."""
    episodes = synthetic_episodes(directory / "episodes", count, steps)
    return frame_store.write_frame_store(episodes, directory / "frames")


def test_the_store_holds_every_frame_of_every_episode_in_order(tmp_path):
    episodes = synthetic_episodes(tmp_path / "episodes", 2, steps=5)
    stored = frame_store.write_frame_store(episodes, tmp_path / "frames")
    for episode, path in zip(episodes, stored, strict=True):
        frames = np.fromfile(path, np.uint8).reshape(-1, 64, 64, 3)
        np.testing.assert_array_equal(frames, files.load_episode(episode).observations)


def test_episodes_of_the_same_name_in_two_rounds_keep_their_own_frames(tmp_path):
    first = synthetic_episodes(tmp_path / "episodes", 2, steps=5)
    later = synthetic_episodes(tmp_path / "round_1" / "episodes", 1, steps=7)
    episodes = [*first, *later]
    stored = frame_store.write_frame_store(episodes, tmp_path / "frames")
    assert first[0].name == later[0].name and len(set(stored)) == 3
    for episode, path in zip(episodes, stored, strict=True):
        frames = np.fromfile(path, np.uint8).reshape(-1, 64, 64, 3)
        np.testing.assert_array_equal(frames, files.load_episode(episode).observations)
    one_pass = frame_store.frame_dataset(stored, TINY, shuffle=False)
    assert sum(len(batch) for batch in one_pass) == files.count_steps(episodes)


def test_an_unshuffled_pass_gives_each_frame_once_as_floats(tmp_path):
    stored = stored_episodes(tmp_path, 3, steps=4)
    settings = dataclasses.replace(TINY, batch_size=5)
    batches = [batch.numpy() for batch in frame_store.frame_dataset(stored, settings, False)]
    assert [len(batch) for batch in batches] == [5, 5, 2]
    values = np.concatenate(batches)[:, 0, 0, 0] * 255
    np.testing.assert_allclose(sorted(values), [10] * 4 + [20] * 4 + [30] * 4, atol=1e-4)


def test_a_cut_or_missing_file_is_written_again_and_a_whole_one_is_kept(tmp_path):
    episodes = synthetic_episodes(tmp_path / "episodes", 3, steps=4)
    directory = tmp_path / "frames"
    cut, whole, missing = frame_store.write_frame_store(episodes, directory)
    (directory / f".partial.{missing.name}").write_bytes(b"interrupted")
    cut.write_bytes(cut.read_bytes()[:-100])
    missing.unlink()
    kept = whole.stat().st_mtime_ns
    frame_store.write_frame_store(episodes, directory)
    assert cut.stat().st_size == missing.stat().st_size == 4 * frame_store.FRAME_BYTES
    assert whole.stat().st_mtime_ns == kept
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        path.name for path in (cut, whole, missing)
    )
