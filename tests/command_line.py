"""Running `python -m wmlib` in a fresh process, for the tests of the command line and of
resuming: a fresh process shares no TensorFlow or Keras state with the test's."""

import os
import subprocess
import sys

from wmlib import data_folder


def run_wmlib(*arguments: str, data: os.PathLike) -> subprocess.CompletedProcess:
    """Run `python -m wmlib ARGUMENTS` with its artefacts under `data`; return what it did."""
    environment = {**os.environ, data_folder.DATA_VARIABLE: str(data), "TQDM_DISABLE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "wmlib", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


SHRUNK = [
    *("--profile", "ci", "--rollouts.episodes", "3", "--rollouts.max_steps", "20"),
    *("--vision.batch_size", "8", "--control.training_steps", "20"),
    *("--control.evaluation_episodes", "2", "--control.evaluation_steps", "20"),
]
"""The ci profile shrunk further, so that the whole pipeline runs in about half a minute."""
