"""The worker pool: results in order, and crashed, hung or failing tasks handled."""

import os
import time

import pytest
from worker_tasks import (
    always_crash,
    crash_once,
    divide,
    environment_variable,
    gpu_view,
    hang_once,
    square,
)

from wmlib.workers import GPU_VARIABLE, NO_GPU, WORKER_ENVIRONMENT, WorkerError, WorkerPool


def test_map_returns_results_in_order():
    with WorkerPool(2, time_limit=60) as pool:
        assert pool.map(square, [(x,) for x in range(7)]) == [x * x for x in range(7)]
        assert pool.map(square, [(3,)]) == [9]
        assert pool.replaced == 0


def test_a_crashed_worker_is_replaced_and_its_task_retried(tmp_path):
    with WorkerPool(2, time_limit=60) as pool:
        results = pool.map(crash_once, [(str(tmp_path / "crashed"), 5), (str(tmp_path / "x"), 6)])
        assert sorted(results) == [5, 6]
        assert pool.replaced == 2


def test_a_hung_worker_is_killed_at_its_time_limit_and_its_task_retried(tmp_path):
    start = time.monotonic()
    with WorkerPool(1, time_limit=3) as pool:
        assert pool.map(hang_once, [(str(tmp_path / "hung"), 7)]) == [7]
        assert pool.replaced == 1
    assert time.monotonic() - start < 30


def test_a_task_that_always_crashes_fails_with_a_clear_error():
    with (
        WorkerPool(1, time_limit=60, retries=1) as pool,
        pytest.raises(
            WorkerError,
            match=r"Task 0 \(always_crash\) failed 2 times: its worker exited \(exit code 3\)",
        ),
    ):
        pool.map(always_crash, [()])


def test_an_exception_in_a_task_is_reported_with_its_traceback_not_retried():
    with WorkerPool(1, time_limit=60) as pool:
        with pytest.raises(WorkerError, match="ZeroDivisionError"):
            pool.map(divide, [(0,)])
        assert pool.replaced == 0


def test_a_pool_needs_a_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        WorkerPool(0, time_limit=1)


def test_workers_see_no_gpu_and_the_parent_keeps_its_own(monkeypatch):
    monkeypatch.setenv(GPU_VARIABLE, "0")  # the GPU that training uses
    with WorkerPool(1, time_limit=60) as pool:
        assert pool.map(gpu_view, [()]) == [(NO_GPU, [])]
    assert os.environ[GPU_VARIABLE] == "0"


def test_workers_compute_on_one_thread_and_the_parent_keeps_its_threads(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    names = [name for name in WORKER_ENVIRONMENT if name != GPU_VARIABLE]
    with WorkerPool(1, time_limit=60) as pool:
        assert pool.map(environment_variable, [(name,) for name in names]) == ["1"] * len(names)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2" and "OMP_NUM_THREADS" not in os.environ


def test_a_parent_that_names_no_gpu_is_left_naming_none(monkeypatch):
    monkeypatch.delenv(GPU_VARIABLE, raising=False)
    with WorkerPool(1, time_limit=60) as pool:
        assert pool.map(environment_variable, [(GPU_VARIABLE,)]) == [NO_GPU]
    assert GPU_VARIABLE not in os.environ
