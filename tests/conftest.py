"""Shared fixtures: every test that writes artefacts writes them under a temporary WM_DATA."""

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dask
import pytest
from distributed import LocalCluster

from wmlib import config, data_folder

ROOT = Path(__file__).resolve().parent.parent
JUPYTER_BOOK = str(Path(sys.executable).parent / "jupyter-book")


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """A fresh, empty data root for the test."""
    monkeypatch.setenv(data_folder.DATA_VARIABLE, str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def tiny_profile(data_root):
    """The ci profile shrunk to three ten-step episodes."""
    rollouts = dataclasses.replace(config.get("ci").rollouts, episodes=3, max_steps=10)
    return dataclasses.replace(config.get("ci"), name="tiny", rollouts=rollouts)


@pytest.fixture(scope="session")
def built_by_all(tmp_path_factory):
    """A data root in which `python -m wmlib all` (the ci profile shrunk) has run, and its run.

    Shared by the tests of the command line and of reproducibility: read it, or copy it first.
    """
    from command_line import SHRUNK, run_wmlib

    data = tmp_path_factory.mktemp("all") / "data"
    return data, run_wmlib("all", *SHRUNK, data=data)


@pytest.fixture(scope="module")
def episode():
    """A short Brownian episode of CarRacing."""
    from wmlib import rollouts

    return rollouts.run_episode("carracing", "brownian", seed=3, max_steps=15)


@pytest.fixture(scope="module")
def agent_files(tmp_path_factory):
    """An untrained V and a small untrained M (16 units), saved where workers can load them.

    TensorFlow is imported here rather than at the top, so that tests that need none (and the
    workers that import test modules' tasks) do not spend seconds loading it.
    """
    from wmlib import agent, memory, training, vision
    from wmlib.runtime import keras

    directory = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    ci = config.get("ci")
    small_memory = dataclasses.replace(ci.memory, hidden_units=16, mixtures=2)
    training.save_atomically(vision.build_vae(ci.vision), directory / "vae.keras")
    training.save_atomically(memory.build_mdnrnn(small_memory, 32, 3), directory / "mdnrnn.keras")
    return agent.AgentFiles(
        "carracing",
        config.FrameConfig(),
        str(directory / "vae.keras"),
        str(directory / "mdnrnn.keras"),
    )


@pytest.fixture(scope="module")
def dask_scheduler():
    """Two one-thread workers on localhost; the address of their scheduler.

    The workers are spawned processes, which start with this process's sys.path: pytest put the
    tests folder on it, so they import `worker_tasks` as we do. A LocalCluster closes for good
    any worker that is missing 15 s after it left (`lost-worker-timeout`), even one that crashed,
    came back and happens to be restarting then: the tests would lose it, so we wait longer.
    """
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "1h"}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        yield cluster.scheduler_address
        cluster.close()


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The book built once, with warnings as errors, into a temporary folder: its `html` folder.

    Shared by the checks of the built pages and the tests that open them in a browser.
    """
    output = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [JUPYTER_BOOK, "build", str(ROOT), "--path-output", str(output), "-W"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return output / "_build" / "html"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, which cannot download its own browsers here.

    Without Chromium the tests that use it skip, except in CI (`CI=true`), where they fail.
    """
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        reason = "needs Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()
