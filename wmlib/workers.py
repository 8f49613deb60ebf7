"""A process pool that survives its workers (chapter 8: parallel rollouts).

Earlier reimplementations lost whole runs to a worker that died (a Box2D segfault, the OOM
killer) or hung, since a standard pool then waits for ever or breaks. Here each task has a time
limit: a worker that crashes or overruns it is replaced and its task sent again, up to a number
of retries, after which the pool says which task failed, how its worker ended and which settings
to change. An exception raised by the task itself is a bug, reported at once, not retried.

Workers are spawned (never forked), clean of the parent's TensorFlow state, without the GPU
and on one thread each. They live as long as the pool, so a task's cache (a loaded V and M) is
loaded once per worker, started only when there is a task for it. The parent alone answers
Ctrl-C (and kills its workers); a worker whose parent dies ends at once.
"""

import collections
import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import connection, get_context, resource_tracker

from wmlib.errors import WorldModelsError

SCHEDULER_VARIABLE = "WM_DASK_SCHEDULER"
"""Names a Dask scheduler (`tcp://HOST:PORT`) to run rollouts on instead of local processes;
`python -m wmlib --scheduler` sets it."""

GPU_VARIABLE, NO_GPU = "CUDA_VISIBLE_DEVICES", "-1"
"""CUDA shows a process the GPUs this variable lists, up to an invalid entry: none for "-1"."""
WORKER_ENVIRONMENT = {GPU_VARIABLE: NO_GPU} | {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}
"""What a worker process starts with: no GPU (the parent's training has it), and NumPy's linear
algebra on one thread, as there is a worker per core (bench/worker_threads.py: 6.9× faster)."""

JOIN_SECONDS = 5
"""How long to wait for a worker that closed its pipe to exit, so that its exit code is known."""


class WorkerError(WorldModelsError, RuntimeError):
    """A task that kept crashing or hanging its worker, or that raised an exception."""


def dask_scheduler() -> str | None:
    """The Dask scheduler rollouts run on, if `WM_DASK_SCHEDULER` names one."""
    return os.environ.get(SCHEDULER_VARIABLE) or None


def worker_count(workers: int) -> int:
    """The number of worker processes `workers` asks for: itself, or one per core for 0.

    A negative count is refused, rather than quietly read as "run serially" or "no workers".
    """
    if workers < 0:
        raise ValueError(
            f"workers={workers} is not a number of processes: give 1 or more, or 0 for one per "
            f"core (python -m wmlib --workers N)."
        )
    return workers or os.cpu_count()


def make_pool(workers: int, time_limit: float, retries: int):
    """The pool rollouts run in: a `DaskPool` on the scheduler `WM_DASK_SCHEDULER` names (its
    workers, on any number of machines), else a local `WorkerPool` of up to `workers` processes.
    Both have the same methods and the same promises."""
    scheduler = dask_scheduler()
    if scheduler:
        from wmlib.cluster import DaskPool  # Dask is imported only when a scheduler is used

        return DaskPool(scheduler, time_limit, retries)
    return WorkerPool(workers, time_limit, retries)


def too_many_failures(
    index: int, function: Callable, failures: int, reason: str, time_limit: float, retries: int
) -> WorkerError:
    """The error that ends a run whose task failed more than `retries` times: what happened, and
    the command-line options (`PoolConfig`'s fields) that give a slow task more room."""
    return WorkerError(
        f"Task {index} ({function.__name__}) failed {failures} times: {reason}. If it is merely "
        f"slow, raise its time limit of {time_limit:.0f} s (--pool.step_seconds, "
        f"--pool.margin_seconds, --pool.startup_seconds) or its retries, now {retries} "
        f"(--pool.retries); otherwise run it alone to see why its worker dies."
    )


def describe_exit(exitcode: int | None) -> str:
    """How a worker process ended, in words: the signal that killed it, or the code it exited
    with (`multiprocessing` reports death by signal N as exit code -N)."""
    if exitcode is None:
        return "its worker closed its pipe but did not exit"
    if exitcode < 0:
        return f"its worker was killed by {_signal_name(-exitcode)} (exit code {exitcode})"
    return f"its worker exited (exit code {exitcode})"


def _signal_name(number: int) -> str:
    """SIGKILL for 9, SIGSEGV for 11; real-time signals have no name."""
    try:
        return f"signal {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"


class _TaskFailure:
    """What a worker sends back when its task raised: the formatted traceback."""

    def __init__(self, text: str):
        self.text = text


def _exit_with_parent() -> None:
    """End this worker as soon as its parent process is gone (a worker's background thread).

    Without it, a worker whose parent was killed plays its episode to the end and then dies on
    a broken pipe. A spawned process holds one end of a pipe whose other end its parent holds
    until it dies; `join` waits for that end to close, without polling.
    """
    multiprocessing.parent_process().join()
    os._exit(1)


def _serve(pipe) -> None:
    """A worker's loop: receive (function, arguments), send back the result, until told to stop."""
    threading.Thread(target=_exit_with_parent, daemon=True).start()
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
        try:
            pipe.send(result)
        except BrokenPipeError:  # the parent died while the task ran: nobody wants the result
            return


@contextlib.contextmanager
def _ctrl_c_blocked():
    """Block SIGINT in this thread while a worker starts, so that the worker is born with it
    blocked and never sees Ctrl-C (which the terminal sends to every process of the foreground
    group): the parent alone handles it, and kills its workers. A Ctrl-C that arrives meanwhile
    reaches the parent when the block ends.

    Python's resource tracker, which the first spawn launches, unblocks SIGINT after launching
    itself; launching it beforehand keeps the block for every worker."""
    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _worker_environment():
    """Give the processes started meanwhile `WORKER_ENVIRONMENT`, which a spawned process has
    before it runs a line of Python (set in the worker, it could come after NumPy or TensorFlow
    were imported); the parent keeps its own values."""
    saved = {name: os.environ.get(name) for name in WORKER_ENVIRONMENT}
    os.environ.update(WORKER_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name)
            if value is not None:
                os.environ[name] = value


class _Worker:
    """One spawned process and our end of its pipe."""

    def __init__(self, context):
        self.pipe, child_pipe = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_pipe,), daemon=True)
        with _ctrl_c_blocked(), _worker_environment():
            self.process.start()
        child_pipe.close()
        self.task = None
        self.deadline = None

    def assign(self, index: int, function: Callable, arguments: tuple, time_limit: float):
        self.task = (index, arguments)
        self.deadline = time.monotonic() + time_limit
        self.pipe.send((function, arguments))

    def exit_reason(self) -> str:
        """How the process ended. It is joined first: its exit code is None until then."""
        self.process.join(timeout=JOIN_SECONDS)
        return describe_exit(self.process.exitcode)

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.pipe.close()


class WorkerPool:
    """Up to `workers` processes that run tasks with a time limit and retry those whose worker
    failed. A process is started when a task needs one, so there are never more than tasks.

    Use it as a context manager; `imap_unordered` and `map` can be called many times in between,
    and the same processes serve them all.
    """

    def __init__(self, workers: int, time_limit: float, retries: int = 2):
        if workers < 1:
            raise ValueError(f"A WorkerPool needs at least one worker, not {workers}.")
        self.context = get_context("spawn")
        self.size = workers
        self.time_limit = time_limit
        self.retries = retries
        self.workers: list[_Worker] = []
        """The processes started so far, at most `size`."""
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
                worker.process.join(timeout=JOIN_SECONDS)
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
            while pending and (worker := self._free_worker()):
                index, task_arguments = pending.popleft()
                worker.assign(index, function, task_arguments, self.time_limit)
            yield from self._collect(function, pending, failures)

    def _free_worker(self) -> _Worker | None:
        """An idle worker; a new one if all are busy and the pool may grow; else None."""
        for worker in self.workers:
            if worker.task is None:
                return worker
        if len(self.workers) < self.size:
            self.workers.append(_Worker(self.context))
            return self.workers[-1]
        return None

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
                raise too_many_failures(
                    index, function, failures[index], value, self.time_limit, self.retries
                )
            self._replace(worker)
            pending.appendleft((index, task_arguments))

    def _outcome(self, worker: _Worker):
        """("result", value), ("failure", reason) or None while the task is still running."""
        if worker.pipe.poll():
            try:
                message = worker.pipe.recv()
            except (EOFError, OSError):
                return "failure", worker.exit_reason()
            if isinstance(message, _TaskFailure):
                self.close()
                raise WorkerError(f"A task raised an exception in its worker:\n{message.text}")
            return "result", message
        if not worker.process.is_alive():
            return "failure", worker.exit_reason()
        if time.monotonic() > worker.deadline:
            return "failure", f"it ran past the time limit of {self.time_limit:.0f} s"
        return None

    def _replace(self, worker: _Worker) -> None:
        """Kill a failed worker and start a fresh one in its place."""
        worker.kill()
        self.workers[self.workers.index(worker)] = _Worker(self.context)
        self.replaced += 1
