"""The house style, checked by ruff: the library, the tests, the benchmarks and the chapters."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["wmlib", "tests", "bench", "book", "_ext"]
"""Every folder of Python source, notebooks' code cells included."""


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_passes(command):
    ruff = [sys.executable, "-m", "ruff", *command, *CHECKED]
    run = subprocess.run(ruff, cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, f"`ruff {' '.join(command)}` found:\n{run.stdout}{run.stderr}"
