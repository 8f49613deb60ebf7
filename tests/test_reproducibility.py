"""A stage does not depend on what ran before it in the process: `all` in one process and one
stage per process build the same V, the same M and the same evaluation."""

import json

import numpy as np
import pytest
from command_line import SHRUNK, run_wmlib

from wmlib import memory, training, vision  # noqa: F401  (Keras loads V and M by class)

FULL_AGENT = ["collect", "vae", "latents", "mdnrnn", "controller", "evaluation"]


@pytest.fixture(scope="module")
def two_runs(built_by_all, tmp_path_factory):
    """Data roots built by `all` in one process, and by one process per stage."""
    together, run = built_by_all
    assert run.returncode == 0, run.stderr[-2000:]
    apart = tmp_path_factory.mktemp("apart") / "data"
    for stage in FULL_AGENT:
        run = run_wmlib(stage, *SHRUNK, data=apart)
        assert run.returncode == 0, run.stderr[-2000:]
    return together / "ci" / "carracing", apart / "ci" / "carracing"


@pytest.mark.parametrize("model", ["vae/vae.keras", "mdnrnn/mdnrnn.keras"])
def test_v_and_m_are_the_same_whichever_stages_shared_the_process(two_runs, model):
    weights = [training.load_model(root / model, compile=False).get_weights() for root in two_runs]
    for together, apart in zip(*weights, strict=True):
        np.testing.assert_array_equal(together, apart)


def test_the_evaluation_is_the_same_whichever_stages_shared_the_process(two_runs):
    returns = [json.loads((root / "evaluation" / "returns.json").read_text()) for root in two_runs]
    assert returns[0] == returns[1]
