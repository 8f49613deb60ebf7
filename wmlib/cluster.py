"""Rollouts on several machines: a Dask cluster with the promises of WorkerPool (chapter 8).

One machine's cores are the limit of `WorkerPool`. Dask's `distributed` joins machines with two
commands: `dask scheduler` on one, `dask worker tcp://HOST:8786 --nthreads 1 --nworkers N` on
each, and `DaskPool("tcp://HOST:8786", time_limit)` then stands in for `WorkerPool(N, time_limit)`.
Dask sends a task again by itself when its worker dies, but it knows no time limit and keeps no
count we can see. So DaskPool gives each worker thread one task at a time and starts its clock when
it submits it; it restarts the worker of a task that overruns, and resubmits, under a fresh key,
each task whose worker died or hung, up to `retries` times. A Python exception raised by the task
itself is a bug, not bad luck: it is reported at once, with its traceback.
"""

import ctypes
import os
import socket
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator

from distributed import Client, Future, KilledWorker, WorkerPlugin

from wmlib.workers import GPU_VARIABLE, NO_GPU, WorkerError, too_many_failures

POLL_SECONDS = 0.1
"""How often to look at the running tasks: finished, raised, lost with their worker, or late."""

RESTART_SECONDS = 30
"""How long to wait for a restarted worker to come back before carrying on without it."""


THRESHOLD_BYTES = 32 * 2**20
"""How much freed memory a worker may keep, and the smallest block it maps on its own: the most
that glibc's own (dynamic) thresholds grow to."""


class KeepFreedMemory(WorkerPlugin):
    """Undo Dask's `MALLOC_TRIM_THRESHOLD_=65536` in each worker, present and future.

    Dask starts its workers with that variable (and sets it in the process that starts a local
    cluster), so glibc returns every freed block over 64 kB to the system at once and stops
    adapting the size above which it maps each block afresh. A rollout allocates and frees
    frames and tensors at every step, and runs 2.5 times slower so (`bench/control.py`);
    glibc's `mallopt` sets both thresholds back up.
    """

    def setup(self, worker) -> None:
        if sys.platform == "linux" and "MALLOC_TRIM_THRESHOLD_" in os.environ:
            libc = ctypes.CDLL("libc.so.6")
            for setting in (-1, -3):  # <malloc.h>: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
                libc.mallopt(setting, THRESHOLD_BYTES)


class HideGPU(WorkerPlugin):
    """Hide the GPU from each worker, present and future, as `WorkerPool` hides it from its own.

    A worker runs this before its first task, so before a task imports TensorFlow (a worker that
    had already loaded it for another client keeps the devices it found). A worker that is a
    thread of the client's own process (`LocalCluster(processes=False)`) is left alone: its
    environment is the training's.
    """

    def __init__(self):
        self.client_process = _this_process()

    def setup(self, worker) -> None:
        if _this_process() != self.client_process:
            os.environ[GPU_VARIABLE] = NO_GPU


def _this_process() -> tuple[str, int]:
    """The machine and process this runs in."""
    return socket.gethostname(), os.getpid()


class DaskPool:
    """Tasks on a Dask cluster, with a time limit, retried when their worker dies or hangs.

    Start the workers with one thread each (`--nthreads 1`): a rollout keeps a core busy, and a
    task's clock only measures the task if its worker runs nothing else. Keep the workers under
    their nanny (the default), which is what restarts a hung one. They see no GPU (`HideGPU`).
    The cluster is not ours: `close` disconnects from it and leaves it running.
    """

    def __init__(self, scheduler: str, time_limit: float, retries: int = 2):
        self.client = Client(scheduler, set_as_default=False)
        self.time_limit = time_limit
        self.retries = retries
        self.replaced = 0
        """How many tasks were sent again because their worker died or hung."""
        self.lost_keys = set()
        """Keys of the tasks that were running on a worker when it left (the scheduler says)."""
        self.client.subscribe_topic("all", self._note_lost_tasks)
        self.client.register_plugin(KeepFreedMemory(), name="wmlib-keep-freed-memory")
        self.client.register_plugin(HideGPU(), name="wmlib-hide-gpu")

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect from the cluster, which keeps running: it belongs to whoever started it."""
        if self.client.status == "closed":
            return
        self.client.unsubscribe_topic("all")  # or the scheduler fails to send us news of our exit
        self.client.close()

    def _note_lost_tasks(self, event: tuple) -> None:
        """Called by the client for each scheduler event: remember what a departed worker ran."""
        _, message = event
        if message.get("action") == "remove-worker":
            self.lost_keys.update(message["processing-tasks"])

    def map(self, function: Callable, arguments: Iterable[tuple]) -> list:
        """`[function(*args) for args in arguments]`, computed by the cluster's workers."""
        results = dict(self.imap_unordered(function, arguments))
        return [results[index] for index in range(len(results))]

    def imap_unordered(self, function: Callable, arguments: Iterable[tuple]) -> Iterator:
        """Yield `(index, function(*arguments[index]))` as each task finishes.

        `function` must be importable by name on the workers (top level of an installed module).
        """
        arguments = list(arguments)
        pending = deque(range(len(arguments)))
        running = {}  # future -> (index, deadline)
        failures = Counter()
        try:
            while pending or running:
                self._submit(function, arguments, pending, running)
                time.sleep(POLL_SECONDS)
                yield from self._collect(function, pending, running, failures)
        finally:
            self.client.cancel(list(running))

    def _submit(self, function: Callable, arguments: list, pending: deque, running: dict) -> None:
        """Submit pending tasks until each worker thread has one, and start their clocks."""
        if not pending:
            return
        free_threads = max(1, sum(self.client.nthreads().values())) - len(running)
        for _ in range(min(free_threads, len(pending))):
            index = pending.popleft()
            future = self.client.submit(function, *arguments[index], pure=False)
            running[future] = (index, time.monotonic() + self.time_limit)

    def _collect(self, function: Callable, pending: deque, running: dict, failures) -> Iterator:
        """Yield the results that came in; send failed tasks back to `pending`, up to `retries`."""
        for future, (index, deadline) in list(running.items()):
            outcome = self._outcome(future, deadline)
            if outcome is None:
                continue
            del running[future]
            kind, value = outcome
            if kind == "result":
                yield index, value
                continue
            failures[index] += 1
            if failures[index] > self.retries:
                raise too_many_failures(
                    index, function, failures[index], value, self.time_limit, self.retries
                )
            self.replaced += 1
            pending.appendleft(index)

    def _outcome(self, future: Future, deadline: float):
        """("result", value), ("failure", reason) or None while the task is still running."""
        if future.key in self.lost_keys or _gone(future):
            future.cancel()  # Dask may have sent it again already: we resubmit it ourselves.
            return "failure", "its worker died"
        if future.status == "finished":
            return "result", future.result()
        if future.status == "error":
            raise WorkerError(f"A task raised an exception in its worker:\n{_traceback(future)}")
        if time.monotonic() > deadline:
            self._restart_worker_of(future)
            return "failure", f"it did not finish within the time limit of {self.time_limit:g} s"
        return None

    def _restart_worker_of(self, future: Future) -> None:
        """Cancel an overrunning task and restart its worker: a hung thread cannot be stopped."""
        workers = [
            address for address, keys in self.client.processing().items() if future.key in keys
        ]
        future.cancel()
        if workers:
            self.client.restart_workers(workers, timeout=RESTART_SECONDS, raise_for_error=False)


def _gone(future: Future) -> bool:
    """Whether Dask gave up on a task after its workers died (KilledWorker), or dropped it."""
    if future.status in ("lost", "cancelled"):
        return True
    return future.status == "error" and isinstance(future.exception(), KilledWorker)


def _traceback(future: Future) -> str:
    """The formatted traceback of the exception a task raised on its worker."""
    exception = future.exception()
    return "".join(traceback.format_exception(type(exception), exception, future.traceback()))
