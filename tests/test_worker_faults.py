"""Faults around the worker processes (issue 17, findings 9, 11 and 12): worker counts checked
and capped, time limits that follow the profile, deaths reported by signal, workers that end with
their parent, and Ctrl-C that ends a run with one line."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from command_line import run_wmlib

from wmlib import config, data_folder, rollouts
from wmlib.config import PoolConfig
from wmlib.pipeline import controller as controller_stage
from wmlib.workers import WorkerError, WorkerPool, make_pool

CI = config.get("ci")
SHORT = PoolConfig(step_seconds=0.01, margin_seconds=1.0, startup_seconds=5.0, retries=2)
"""Time limits of a few seconds, so that a paused worker is replaced within the test."""


def report_pid(folder: str) -> int:
    Path(folder, str(os.getpid())).touch()
    return os.getpid()


def kill_myself() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def is_running(pid: int) -> bool:
    """Whether a process runs; a zombie (dead, not yet reaped by its new parent) does not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_for(condition, seconds: float) -> bool:
    """Poll `condition()` until it holds or `seconds` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# Finding 9: --workers checked, and never more processes than tasks.


def test_the_command_line_refuses_a_negative_worker_count(tmp_path):
    run = run_wmlib("collect", "--profile", "ci", "--workers", "-1", data=tmp_path / "data")
    assert run.returncode == 2
    assert "--workers: '-1' is not a number" in run.stderr and "0 for one per core" in run.stderr
    assert not (tmp_path / "data").exists()


def test_a_collection_refuses_a_negative_worker_count_instead_of_running_serially(tmp_path):
    settings = dataclasses.replace(CI.rollouts, episodes=1, max_steps=5)
    with pytest.raises(ValueError, match="workers=-1 .* 0 for one per core"):
        rollouts.collect(tmp_path, "carracing", settings, workers=-1)
    assert not list(tmp_path.glob("episode_*"))


def test_a_pool_starts_no_more_processes_than_it_has_tasks(tmp_path):
    with WorkerPool(8, time_limit=60) as pool:
        pids = pool.map(report_pid, [(str(tmp_path),)] * 2)
        assert len(pool.workers) == 2
    assert len(set(pids)) == 2 and len(list(tmp_path.iterdir())) == 2


def test_a_thousand_workers_for_cis_two_rollout_tasks_start_two_processes(agent_files):
    from wmlib import agent

    candidates = np.random.default_rng(0).normal(scale=0.1, size=(4, (32 + 16 + 1) * 3))
    with agent.Rollouts(agent_files, CI.control, 1000, SHORT) as drivers:
        assert drivers.pool.workers == []
        drivers.fitness(candidates, [1])  # 4 candidates × 1 track / 2 per task = 2 tasks
        assert len(drivers.pool.workers) == 2


# Finding 11: time limits from the profile, settable with retries; deaths named by signal.


def test_at_ci_a_stuck_collection_worker_is_replaced_within_a_minute():
    assert CI.pool.time_limit(1, CI.rollouts.max_steps) <= 60


def test_a_paused_collection_worker_is_replaced_and_the_collection_completes(tmp_path, monkeypatch):
    pools = []

    def recording_make_pool(*arguments):
        pools.append(make_pool(*arguments))
        return pools[-1]

    def pause_the_first_worker():  # as a stuck worker would be: alive, but never answering
        wait_for(lambda: pools and pools[0].workers, 30)
        os.kill(pools[0].workers[0].process.pid, signal.SIGSTOP)

    monkeypatch.setattr(rollouts, "make_pool", recording_make_pool)
    settings = dataclasses.replace(CI.rollouts, episodes=3, max_steps=50)
    pauser = threading.Thread(target=pause_the_first_worker)
    pauser.start()
    start = time.monotonic()
    paths = rollouts.collect(tmp_path, "carracing", settings, workers=2, pool=SHORT)
    pauser.join()
    assert time.monotonic() - start < SHORT.time_limit(1, 50) + 20
    assert all(path.exists() for path in paths)
    assert pools[0].time_limit == SHORT.time_limit(1, 50) and pools[0].replaced == 1


def test_a_killed_worker_is_reported_by_its_signal_with_the_options_to_change():
    with (
        WorkerPool(1, time_limit=60, retries=1) as pool,
        pytest.raises(WorkerError) as failure,
    ):
        pool.map(kill_myself, [()])
    message = str(failure.value)
    assert "failed 2 times: its worker was killed by signal SIGKILL (exit code -9)" in message
    assert "--pool.retries" in message and "--pool.step_seconds" in message


def test_the_profiles_pool_settings_reach_the_controllers_pool(monkeypatch, data_root):
    monkeypatch.setattr(controller_stage, "ensure_vae", lambda profile, workers: None)
    monkeypatch.setattr(controller_stage, "ensure_mdnrnn", lambda profile, workers: None)
    profile = dataclasses.replace(CI, pool=PoolConfig(retries=3, startup_seconds=7.0))
    with controller_stage._drivers(profile, use_memory=True, workers=0) as drivers:
        assert drivers.pool.retries == 3
        steps = max(CI.control.training_steps, CI.control.evaluation_steps)
        assert drivers.pool.time_limit == profile.pool.time_limit(2, steps)


# Finding 12: workers end with their parent; Ctrl-C ends a run with one line.

PARENT_SCRIPT = """
    import os, sys, time
    from pathlib import Path
    from wmlib.workers import WorkerPool

    def report_and_sleep(folder):
        Path(folder, str(os.getpid())).touch()
        time.sleep(60)

    if __name__ == "__main__":
        with WorkerPool(2, time_limit=120) as pool:
            pool.map(report_and_sleep, [(sys.argv[1],)] * 2)
"""


def test_workers_end_within_seconds_when_their_parent_is_killed(tmp_path):
    script, folder = tmp_path / "parent.py", tmp_path / "pids"
    script.write_text(textwrap.dedent(PARENT_SCRIPT))
    folder.mkdir()
    parent = subprocess.Popen(
        [sys.executable, str(script), str(folder)], stderr=subprocess.PIPE, text=True
    )
    assert wait_for(lambda: len(list(folder.iterdir())) == 2, 60)
    workers = [int(path.name) for path in folder.iterdir()]
    parent.kill()
    assert wait_for(lambda: not any(map(is_running, workers)), 5)
    _, errors = parent.communicate(timeout=10)
    assert "Traceback" not in errors


def with_ctrl_c_enabled() -> None:
    """In the child before it starts Python: undo an ignored SIGINT inherited from a test run
    started in the background, so that Python installs its Ctrl-C handler as in a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_a_collection_with_one_line_and_status_130(tmp_path):
    environment = {
        **os.environ,
        data_folder.DATA_VARIABLE: str(tmp_path / "data"),
        "TQDM_DISABLE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "wmlib", "collect", "--profile", "ci", "--workers", "2"]
    run = subprocess.Popen(
        [*command, "--rollouts.max_steps", "1000"],  # long episodes: the workers are busy
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
        preexec_fn=with_ctrl_c_enabled,
    )
    assert run.stdout.readline().startswith("profile: ci")
    time.sleep(2)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: every process of the group gets it
    _, errors = run.communicate(timeout=60)
    assert run.returncode == 130
    assert errors == "interrupted: run the same command again to resume\n"


def test_ctrl_c_stops_training_v_with_one_line_and_status_130(tmp_path):
    """Inside TensorFlow's `fit` a plain KeyboardInterrupt may never arrive: training stops at
    the end of the batch instead, and the process ends promptly."""
    environment = {
        **os.environ,
        data_folder.DATA_VARIABLE: str(tmp_path / "data"),
        "TQDM_DISABLE": "1",
    }
    command = [sys.executable, "-m", "wmlib", "vae", "--profile", "ci", "--workers", "1"]
    budget = ["--rollouts.episodes", "3", "--rollouts.max_steps", "200", "--vision.epochs", "50"]
    run = subprocess.Popen(
        [*command, *budget, "--vision.batch_size", "8"],
        env={**environment, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=with_ctrl_c_enabled,
    )
    while not run.stdout.readline().startswith("epoch 1/50"):  # V is training
        assert run.poll() is None
    os.killpg(run.pid, signal.SIGINT)
    _, errors = run.communicate(timeout=60)
    assert run.returncode == 130
    assert errors == "interrupted: run the same command again to resume\n"
