"""The Dask pool on a real local cluster: same results as WorkerPool, failures handled alike."""

import os
import time
from pathlib import Path

import pytest
import worker_tasks

from wmlib import config
from wmlib.cluster import DaskPool, HideGPU
from wmlib.config import FrameConfig, PoolConfig
from wmlib.workers import GPU_VARIABLE, NO_GPU, SCHEDULER_VARIABLE, WorkerError, WorkerPool

CI = config.get("ci")


def test_map_gives_the_results_of_the_worker_pool(dask_scheduler):
    arguments = [(x, 7 - x) for x in range(8)]
    with WorkerPool(2, time_limit=60) as local_pool:
        expected = local_pool.map(worker_tasks.polynomial, arguments)
    with DaskPool(dask_scheduler, time_limit=60) as pool:
        assert pool.map(worker_tasks.polynomial, arguments) == expected
        unordered = dict(pool.imap_unordered(worker_tasks.polynomial, arguments))
        assert [unordered[index] for index in range(8)] == expected
        assert pool.replaced == 0


def test_a_task_whose_worker_dies_is_retried(dask_scheduler, tmp_path):
    arguments = [(str(tmp_path / f"marker-{x}"), x) for x in range(4)]
    for marker, _ in arguments[1:]:
        Path(marker).touch()  # only the first task kills its worker
    with DaskPool(dask_scheduler, time_limit=60) as pool:
        assert pool.map(worker_tasks.crash_once, arguments) == [0, 1, 2, 3]
        assert pool.replaced >= 1


def test_a_hung_task_is_retried_after_its_time_limit(dask_scheduler, tmp_path):
    start = time.monotonic()
    with DaskPool(dask_scheduler, time_limit=3) as pool:
        assert pool.map(worker_tasks.hang_once, [(str(tmp_path / "hung"), 7)]) == [7]
        assert pool.replaced >= 1
    assert time.monotonic() - start < 30


def test_a_task_that_always_hangs_fails_with_a_clear_error(dask_scheduler):
    with (
        DaskPool(dask_scheduler, time_limit=3, retries=1) as pool,
        pytest.raises(WorkerError, match=r"Task 0 \(hang\) failed 2 times.*time limit") as failure,
    ):
        pool.map(worker_tasks.hang, [()])
    assert "--pool.retries" in str(failure.value) and "--pool.step_seconds" in str(failure.value)


def test_the_pool_settings_reach_the_dask_pool_of_the_rollouts(dask_scheduler, monkeypatch):
    from wmlib import agent  # TensorFlow, for this test only

    monkeypatch.setenv(SCHEDULER_VARIABLE, dask_scheduler)
    files = agent.AgentFiles("carracing", FrameConfig(), "vae.keras", "mdnrnn.keras")
    settings = PoolConfig(startup_seconds=7.0, retries=3)
    steps = max(CI.control.training_steps, CI.control.evaluation_steps)
    time_limit = settings.time_limit(CI.control.environments_per_task, steps)
    with agent.Rollouts(files, CI.control, 0, settings) as rollouts:
        assert isinstance(rollouts.pool, DaskPool)
        assert (rollouts.pool.time_limit, rollouts.pool.retries) == (time_limit, 3)


def test_an_exception_in_a_task_is_reported_with_its_traceback_not_retried(dask_scheduler):
    start = time.monotonic()
    with DaskPool(dask_scheduler, time_limit=60) as pool:
        with pytest.raises(WorkerError, match="(?s)Traceback.*ValueError: 3 is not a valid"):
            pool.map(worker_tasks.reject, [(3,)])
        assert pool.replaced == 0
    assert time.monotonic() - start < 10


def test_workers_see_no_gpu_and_the_client_keeps_its_own(dask_scheduler, monkeypatch):
    monkeypatch.setenv(GPU_VARIABLE, "0")  # the GPU that training uses
    with DaskPool(dask_scheduler, time_limit=60) as pool:
        assert pool.map(worker_tasks.gpu_view, [()]) == [(NO_GPU, [])]
    assert os.environ[GPU_VARIABLE] == "0"


def test_a_worker_thread_of_the_clients_own_process_keeps_the_gpu(monkeypatch):
    monkeypatch.setenv(GPU_VARIABLE, "0")
    HideGPU().setup(worker=None)
    assert os.environ[GPU_VARIABLE] == "0"
