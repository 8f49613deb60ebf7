"""TensorFlow, imported without its start-up noise, and the device it computes on.

TensorFlow's C++ side writes start-up lines (oneDNN, "could not find cuda drivers", CPU
features) straight to the process's standard error before any Python logging is set up, so
neither `TF_CPP_MIN_LOG_LEVEL` nor Python's `warnings` can stop them reaching a chapter's saved
outputs. The library imports TensorFlow once, here, with file descriptor 2 pointed at /dev/null
for the duration of the import and of the GPU probe. Every module that needs TensorFlow imports
`tf` and `keras` from this one. Errors are not hidden: a failed import still raises.

The GPU, if there is one, is for training, and shared: TensorFlow takes its memory as it needs it
(`grow_gpu_memory`) rather than all at once. Rollout workers never see it: `wmlib.workers` hides
it from them as they start, since a worker's import of this module would be too late for that.
"""

import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def silenced_stderr():
    """Send everything written to the process's standard error (fd 2) to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def grow_gpu_memory(gpus: list) -> None:
    """Let TensorFlow take memory on each of `gpus` as it needs it, rather than nearly all of it
    at its first operation (its default), so that another process (a notebook, a benchmark) can
    use the GPU too. TensorFlow refuses the setting once it has started, so this module makes it
    right after the GPU probe."""
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)


with silenced_stderr():
    import keras
    import tensorflow as tf

    GPUS = tf.config.list_physical_devices("GPU")
    grow_gpu_memory(GPUS)


def on_gpu() -> bool:
    """Whether TensorFlow computes on a GPU: the library's one device check."""
    return bool(GPUS)


def use_one_thread() -> None:
    """Hold TensorFlow to one thread, as a rollout worker does: the parallelism comes from one
    worker per core. Before the process's first TensorFlow operation, that is; after it (the
    main process playing a worker's part when a run has one worker) TensorFlow keeps its
    threads, which cannot change any more."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        return


def device() -> str:
    """Where training runs: the GPU TensorFlow found, or the CPU."""
    if GPUS:
        return f"GPU ({', '.join(gpu.name for gpu in GPUS)})"
    return f"CPU ({os.cpu_count()} cores; no GPU visible to TensorFlow)"


__all__ = ["device", "keras", "on_gpu", "tf", "use_one_thread"]
