"""A process pool that survives its workers (chapter 8: parallel rollouts).

CMA-ES asks for hundreds of rollouts per generation and spreads them over every core. Earlier
reimplementations lost whole runs to a worker that died (a Box2D segfault, the OOM killer) or
hung without a word, because a standard pool then waits for ever or breaks for good. Here each
task has a time limit: a worker that crashes or overruns it is killed, replaced by a fresh
process, and its task is sent again, up to a number of retries, after which the pool raises an
error that says which task failed and how to change the limit. A Python exception raised by the
task itself is a bug, not bad luck, so it is reported at once instead of retried.

Workers are spawned (never forked), so they start clean of any TensorFlow state the parent holds,
and they live as long as the pool: whatever a task caches in its process (a loaded V and M) is
loaded once per worker, not once per rollout.
"""

import collections
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import connection, get_context

from wmlib.errors import WorldModelsError

SCHEDULER_VARIABLE = "WM_DASK_SCHEDULER"
"""Names a Dask scheduler (`tcp://HOST:PORT`) to run rollouts on instead of local processes;
`python -m wmlib --scheduler` sets it."""


class WorkerError(WorldModelsError, RuntimeError):
    """A task that kept crashing or hanging its worker, or that raised an exception."""


def dask_scheduler() -> str | None:
    """The Dask scheduler rollouts run on, if `WM_DASK_SCHEDULER` names one."""
    return os.environ.get(SCHEDULER_VARIABLE) or None


def make_pool(workers: int, time_limit: float, retries: int = 2):
    """The pool rollouts run in: a `DaskPool` on the scheduler `WM_DASK_SCHEDULER` names (its
    workers, on any number of machines), else a local `WorkerPool` of `workers` processes.
    Both have the same methods and the same promises."""
    scheduler = dask_scheduler()
    if scheduler:
        from wmlib.cluster import DaskPool  # Dask is imported only when a scheduler is used

        return DaskPool(scheduler, time_limit, retries)
    return WorkerPool(workers, time_limit, retries)


class _TaskFailure:
    """What a worker sends back when its task raised: the formatted traceback."""

    def __init__(self, text: str):
        self.text = text


def _serve(pipe) -> None:
    """A worker's loop: receive (function, arguments), send back the result, until told to stop."""
    while True:
        try:
            task = pipe.recv()
        except EOFError:
            return
        if task is None:
            return
        function, arguments = task
        try:
            result = function(*arguments)
        except Exception:  # noqa: BLE001  (every failure goes back to the parent, named)
            result = _TaskFailure(traceback.format_exc())
        pipe.send(result)


class _Worker:
    """One spawned process and our end of its pipe."""

    def __init__(self, context):
        self.pipe, child_pipe = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_pipe,), daemon=True)
        self.process.start()
        child_pipe.close()
        self.task = None
        self.deadline = None

    def assign(self, index: int, function: Callable, arguments: tuple, time_limit: float):
        self.task = (index, arguments)
        self.deadline = time.monotonic() + time_limit
        self.pipe.send((function, arguments))

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.pipe.close()


class WorkerPool:
    """`workers` processes that run tasks with a time limit and retry those whose worker failed.

    Use it as a context manager; `imap_unordered` and `map` can be called many times in between,
    and the same processes serve them all.
    """

    def __init__(self, workers: int, time_limit: float, retries: int = 2):
        if workers < 1:
            raise ValueError(f"A WorkerPool needs at least one worker, not {workers}.")
        self.context = get_context("spawn")
        self.time_limit = time_limit
        self.retries = retries
        self.workers = [_Worker(self.context) for _ in range(workers)]
        self.replaced = 0
        """How many workers were killed and replaced so far (crashed or over the time limit)."""

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker: politely when idle, by force when busy."""
        for worker in self.workers:
            if worker.task is None and worker.process.is_alive():
                worker.pipe.send(None)
                worker.process.join(timeout=5)
            worker.kill()
        self.workers = []

    def map(self, function: Callable, arguments: Iterable[tuple]) -> list:
        """`[function(*args) for args in arguments]`, computed by the workers."""
        results = dict(self.imap_unordered(function, arguments))
        return [results[index] for index in range(len(results))]

    def imap_unordered(self, function: Callable, arguments: Iterable[tuple]) -> Iterator:
        """Yield `(index, function(*arguments[index]))` as each task finishes.

        `function` must be importable by name (defined at the top level of a module).
        """
        pending = collections.deque(enumerate(arguments))
        failures = collections.Counter()
        while pending or any(worker.task for worker in self.workers):
            for worker in self.workers:
                if worker.task is None and pending:
                    index, task_arguments = pending.popleft()
                    worker.assign(index, function, task_arguments, self.time_limit)
            yield from self._collect(function, pending, failures)

    def _collect(self, function: Callable, pending, failures) -> Iterator:
        """Wait for a result, a dead worker or a deadline; yield results, requeue failures."""
        busy = [worker for worker in self.workers if worker.task is not None]
        timeout = max(0.0, min(worker.deadline for worker in busy) - time.monotonic())
        connection.wait(
            [worker.pipe for worker in busy] + [worker.process.sentinel for worker in busy],
            timeout,
        )
        for worker in busy:
            index, task_arguments = worker.task
            outcome = self._outcome(worker)
            if outcome is None:
                continue
            kind, value = outcome
            if kind == "result":
                worker.task = None
                yield index, value
                continue
            failures[index] += 1
            if failures[index] > self.retries:
                self.close()
                raise WorkerError(
                    f"Task {index} ({function.__name__}) failed {failures[index]} times: "
                    f"{value}. Raise the time limit ({self.time_limit:.0f} s) or the retries "
                    f"({self.retries}) if the task is merely slow; otherwise run it alone to "
                    f"see why its worker dies."
                )
            self._replace(worker)
            pending.appendleft((index, task_arguments))

    def _outcome(self, worker: _Worker):
        """("result", value), ("failure", reason) or None while the task is still running."""
        if worker.pipe.poll():
            try:
                message = worker.pipe.recv()
            except (EOFError, OSError):
                return "failure", f"its worker died (exit code {worker.process.exitcode})"
            if isinstance(message, _TaskFailure):
                self.close()
                raise WorkerError(f"A task raised an exception in its worker:\n{message.text}")
            return "result", message
        if not worker.process.is_alive():
            worker.process.join()
            return "failure", f"its worker died (exit code {worker.process.exitcode})"
        if time.monotonic() > worker.deadline:
            return "failure", f"it ran past the time limit of {self.time_limit:.0f} s"
        return None

    def _replace(self, worker: _Worker) -> None:
        """Kill a failed worker and start a fresh one in its place."""
        worker.kill()
        self.workers[self.workers.index(worker)] = _Worker(self.context)
        self.replaced += 1
