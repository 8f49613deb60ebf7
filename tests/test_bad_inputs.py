"""Bad files and wrong inputs: each is refused promptly, with a message that names it, says what
is wrong and gives a fix that works."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from test_files import damage_frames

from wmlib import config, controller, data_folder, files, training
from wmlib.runtime import keras

CI = config.get("ci")


def run_wmlib(*arguments: str, data) -> subprocess.CompletedProcess:
    """`python -m wmlib ARGUMENTS` in a fresh process, which must end within a minute."""
    environment = {**os.environ, data_folder.DATA_VARIABLE: str(data), "TQDM_DISABLE": "1"}
    command = [sys.executable, "-m", "wmlib", *arguments, "--profile", "ci"]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)


def fake_episodes(directory, count: int, steps: int) -> list:
    """Valid episode files of random frames: quicker to write than to play CarRacing."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True)
    paths = [files.episode_path(directory, index) for index in range(count)]
    for index, path in enumerate(paths):
        episode = files.Episode(
            observations=rng.integers(0, 256, (steps, *files.FRAME_SHAPE), dtype=np.uint8),
            actions=rng.uniform(-1, 1, (steps, 3)).astype(np.float32),
            rewards=np.zeros(steps, np.float32),
            terminated=False,
            truncated=True,
            seed=CI.rollouts.seed + index,
            policy=CI.rollouts.policy,
        )
        files.save_episode(episode, path)
    return paths


def test_a_damaged_episode_stops_training_promptly_and_the_fix_works(tmp_path):
    """Damage that only reading the frames finds surfaces inside tf.data's threads: the run must
    still end (TensorFlow used to deadlock at exit) with one line that names the file, and
    following that line's advice must record the episode again."""
    directory = tmp_path / CI.name / CI.task / "episodes"
    paths = fake_episodes(directory, CI.rollouts.episodes, CI.rollouts.max_steps)
    damage_frames(paths[0])

    failed = run_wmlib("vae", data=tmp_path)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr[-3000:]
    expected = f"error: {paths[0]} is damaged (EOF: reading array data"
    assert failed.stderr.strip().splitlines()[-1].startswith(expected), failed.stderr[-3000:]
    assert "Delete it and run `python -m wmlib collect` to record it anew." in failed.stderr

    paths[0].unlink()
    collected = run_wmlib("collect", data=tmp_path)
    assert collected.returncode == 0, collected.stderr[-3000:]
    assert files.load_episode(paths[0]).steps > 0


def test_an_episode_of_the_wrong_dtype_is_named_and_recorded_anew_before_training(tmp_path):
    """The probe that used to hang: the stage now checks its episodes before training."""
    directory = tmp_path / CI.name / CI.task / "episodes"
    paths = fake_episodes(directory, CI.rollouts.episodes, CI.rollouts.max_steps)
    arrays = dict(np.load(paths[2]))
    files.write_npz(paths[2], arrays | {"observations": arrays["observations"] / 255})

    trained = run_wmlib("vae", data=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    problem = f"{paths[2]} is not valid: observations has dtype float64 and 4 dimensions"
    assert f"{problem}, expected uint8 and 4. It is recorded anew." in trained.stdout
    files.check_episode(paths[2])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small model saved as the pipeline saves V and M, in a folder named after its stage."""
    path = tmp_path_factory.mktemp("data") / "vae" / "vae.keras"
    path.parent.mkdir()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    training.save_atomically(model, path)
    return path


def damaged_copies(path, folder):
    """A truncated copy of a `.keras` file, and one whose model description is overwritten."""
    data = path.read_bytes()
    start = zipfile.ZipFile(path).getinfo("config.json").header_offset + 100
    for name, damaged in {
        "truncated": data[: len(data) // 2],
        "overwritten": data[:start] + b"x" * 100 + data[start + 100 :],
    }.items():
        copy = folder / name / "vae" / path.name
        copy.parent.mkdir(parents=True)
        copy.write_bytes(damaged)
        yield copy


def test_a_damaged_model_is_named_with_the_command_that_rebuilds_it(model_file, tmp_path):
    training.load_model(model_file)
    for copy in [*damaged_copies(model_file, tmp_path), tmp_path / "vae" / "vae.keras"]:
        with pytest.raises(files.DataFileError) as error:
            training.load_model(copy)
        message = str(error.value)
        assert message.startswith(f"{copy} is ") and "not found" not in message
        assert message.endswith(
            f"Delete {copy.parent} and run `python -m wmlib vae` to rebuild it."
        )


def test_a_damaged_checkpoint_says_training_restarts_once_it_is_deleted(model_file, tmp_path):
    checkpoint = tmp_path / "checkpoint.keras"
    checkpoint.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(files.DataFileError, match=f"{checkpoint} .*restarts from scratch"):
        training.fit_resumable(None, None, steps_per_epoch=1, epochs=1, directory=tmp_path)


def test_controller_parameters_one_short_are_refused():
    features = np.zeros((1, controller.input_size(32, 256)))
    with pytest.raises(controller.ControllerError, match="866 controller parameters do not fit"):
        controller.act(np.zeros((1, 866)), features, np.tanh)
