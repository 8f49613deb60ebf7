"""The one device check: the GPU probed in one place, its memory grown before TensorFlow starts."""

import json
import subprocess
import sys
from pathlib import Path

LIBRARY = Path(__file__).resolve().parent.parent / "wmlib"

WITH_TWO_FAKE_GPUS = """
import json
import tensorflow as tf
from tensorflow.python.eager import context

probe, grown = tf.config.list_physical_devices, []
tf.config.list_physical_devices = lambda kind=None: ["G0", "G1"] if kind == "GPU" else probe(kind)
tf.config.experimental.set_memory_growth = lambda gpu, enable: grown.append([gpu, enable])
import wmlib.runtime
print(json.dumps({"grown": grown, "tensorflow_started": context.context()._initialized}))
"""
"""Import `wmlib.runtime` in a process where TensorFlow finds two GPUs (fakes), and report on
which of them memory growth was enabled, and whether TensorFlow had started by then (it refuses
the setting once it has)."""


def test_memory_grows_on_every_gpu_found_before_tensorflow_starts():
    run = subprocess.run(
        [sys.executable, "-c", WITH_TWO_FAKE_GPUS], capture_output=True, text=True, check=True
    )
    assert json.loads(run.stdout) == {
        "grown": [["G0", True], ["G1", True]],
        "tensorflow_started": False,
    }


def test_no_module_but_runtime_looks_for_devices():
    probing = {
        path.relative_to(LIBRARY).as_posix()
        for path in LIBRARY.rglob("*.py")
        if "_devices(" in path.read_text()  # list_physical_devices, list_logical_devices
    }
    assert probing == {"runtime.py"}
