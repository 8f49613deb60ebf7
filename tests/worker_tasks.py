"""Tasks for the tests of both pools (WorkerPool and DaskPool), in a module of their own: the
workers import their tasks by name, and should not import a test module to do so."""

import os
import time
from pathlib import Path


def polynomial(x: int, y: int) -> int:
    return x**3 - 2 * x * y + y


def crash_once(marker: str, value: int) -> int:
    """Kill its own worker the first time it runs (as a segfault would), then succeed."""
    if not Path(marker).exists():
        Path(marker).touch()
        os._exit(1)
    return value


def hang_once(marker: str, value: int) -> int:
    """Hang the first time it runs, then succeed."""
    if not Path(marker).exists():
        Path(marker).touch()
        time.sleep(3600)
    return value


def hang() -> None:
    time.sleep(3600)


def reject(value: int) -> None:
    raise ValueError(f"{value} is not a valid rollout seed")


def square(x: int) -> int:
    return x * x


def always_crash() -> None:
    os._exit(3)


def divide(x: int) -> float:
    return 1 / x


def environment_variable(name: str) -> str | None:
    return os.environ.get(name)


def gpu_view() -> tuple[str | None, list[str]]:
    """What a worker sees of the GPU: CUDA_VISIBLE_DEVICES, and the GPUs TensorFlow lists."""
    from wmlib.runtime import tf  # TensorFlow, in the workers of the tests that ask for it only

    return os.environ.get("CUDA_VISIBLE_DEVICES"), [
        gpu.name for gpu in tf.config.list_physical_devices("GPU")
    ]
