"""A stage does not depend on what ran before it in the process: `all` in one process and one
stage per process build the same V, the same M and the same evaluation."""

import json

import numpy as np
import pytest
from command_line import run_wmlib

from wmlib.runtime import keras

OVERRIDES = [
    *("--profile", "ci", "--rollouts.episodes", "3", "--rollouts.max_steps", "20"),
    *("--vision.batch_size", "8", "--control.training_steps", "15"),
    *("--control.evaluation_episodes", "2", "--control.evaluation_steps", "15"),
]
"""The ci profile shrunk so that the whole pipeline runs twice in about a minute."""
FULL_AGENT = ["collect", "vae", "latents", "mdnrnn", "controller", "evaluation"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Data roots built by `all` in one process, and by one process per stage."""
    together, apart = (tmp_path_factory.mktemp(name) / "data" for name in ("together", "apart"))
    assert run_wmlib("all", *OVERRIDES, data=together).returncode == 0
    for stage in FULL_AGENT:
        run = run_wmlib(stage, *OVERRIDES, data=apart)
        assert run.returncode == 0, run.stderr[-2000:]
    return together / "ci" / "carracing", apart / "ci" / "carracing"


@pytest.mark.parametrize("model", ["vae/vae.keras", "mdnrnn/mdnrnn.keras"])
def test_v_and_m_are_the_same_whichever_stages_shared_the_process(two_runs, model):
    weights = [
        keras.models.load_model(root / model, compile=False).get_weights() for root in two_runs
    ]
    for together, apart in zip(*weights, strict=True):
        np.testing.assert_array_equal(together, apart)


def test_the_evaluation_is_the_same_whichever_stages_shared_the_process(two_runs):
    returns = [json.loads((root / "evaluation" / "returns.json").read_text()) for root in two_runs]
    assert returns[0] == returns[1]
