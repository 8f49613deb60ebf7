"""CMA-ES's rollouts and the command line on a real Dask cluster on localhost: the same returns
as the local worker pool, and a whole controller search run through `--scheduler`."""

import dataclasses
import json
import shutil

import numpy as np
from command_line import SHRUNK, run_wmlib

from wmlib import agent, config
from wmlib.workers import SCHEDULER_VARIABLE

CI = config.get("ci")
SETTINGS = dataclasses.replace(CI.control, evaluation_steps=15, environments_per_task=2)


def test_rollouts_on_dask_return_what_the_local_pool_returns(
    agent_files, dask_scheduler, monkeypatch
):
    parameters = np.random.default_rng(0).normal(scale=0.5, size=(6, (32 + 16 + 1) * 3))
    seeds = [11, 12, 13, 11, 12, 13]
    with agent.Rollouts(agent_files, SETTINGS, workers=2) as local:
        expected = local.returns(parameters, seeds, SETTINGS.evaluation_steps)
    monkeypatch.setenv(SCHEDULER_VARIABLE, dask_scheduler)
    with agent.Rollouts(agent_files, SETTINGS, workers=2) as on_dask:
        assert type(on_dask.pool).__name__ == "DaskPool"
        returns = on_dask.returns(parameters, seeds, SETTINGS.evaluation_steps)
    assert len(np.unique(expected)) > 1  # different controllers, different returns
    np.testing.assert_array_equal(returns, expected)


def test_the_command_line_searches_for_c_on_a_dask_scheduler(
    built_by_all, dask_scheduler, tmp_path
):
    data = tmp_path / "data"
    shutil.copytree(built_by_all[0], data)
    run = run_wmlib(
        "controller",
        *SHRUNK,
        "--control.generations",
        "3",
        "--scheduler",
        dask_scheduler,
        data=data,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "controller: parameters 867, generations 3" in run.stdout
    history = json.loads((data / "ci" / "carracing" / "controller" / "history.json").read_text())
    assert [record["generation"] for record in history] == [1, 2, 3]
