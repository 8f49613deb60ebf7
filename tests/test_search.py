"""CMA-ES's search for C: its fixed tracks, the penalised fitness, and an exact resume."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from wmlib import config, files, search


def test_evaluation_tracks_are_fixed_and_apart_from_training_and_collection():
    small = config.get("small")
    first = search.evaluation_seeds(small.control)
    assert first == search.evaluation_seeds(small.control) == list(range(1_000_000, 1_000_100))
    during = search.mean_evaluation_seeds(small.control)
    training = {
        seed
        for generation in range(small.control.generations)
        for seed in search.training_seeds(small.control, generation)
    }
    collection = set(range(small.rollouts.seed, small.rollouts.seed + small.rollouts.episodes))
    assert len(training) == small.control.generations * small.control.episodes_per_candidate
    for a, b in [(first, during), (first, training), (during, training), (first, collection)]:
        assert not set(a) & set(b)


def test_the_penalised_fitness_is_the_papers_weight_decay():
    candidates = np.array([[1.0, 3.0], [0.0, 0.0]])
    fitness = search.penalised(np.array([10.0, 10.0]), candidates, 0.01)
    np.testing.assert_allclose(fitness, [10.0 - 0.01 * 5.0, 10.0])


SEARCH_SCRIPT = """
import dataclasses, os, signal, sys
from pathlib import Path
import numpy as np
from wmlib import config, search

settings = dataclasses.replace(
    config.get("ci").control, population_size=6, generations=int(sys.argv[2]),
    mean_evaluation_interval=2,
)

def fitness(candidates, generation):
    if generation == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return -np.sum((candidates - 0.5) ** 2, axis=1) * (1 + generation)

search.search(fitness, lambda mean: -np.sum((mean - 0.5) ** 2), 5, settings, Path(sys.argv[1]))
"""


SETTINGS = dataclasses.replace(
    config.get("ci").control, population_size=6, generations=5, mean_evaluation_interval=2
)
"""The settings the script above runs with (5 generations)."""


def run_search(directory, generations, kill_at=-1):
    """Run a search on a toy fitness in a fresh process, killing it at generation `kill_at`."""
    script = textwrap.dedent(SEARCH_SCRIPT)
    return subprocess.run(
        [sys.executable, "-c", script, str(directory), str(generations), str(kill_at)],
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )


def test_a_killed_search_resumes_to_exactly_the_uninterrupted_result(tmp_path):
    assert run_search(tmp_path / "straight", 5).returncode == 0
    killed = run_search(tmp_path / "killed", 5, kill_at=3)
    assert killed.returncode == -9
    assert len(json.loads((tmp_path / "killed" / "history.json").read_text())) == 3
    assert run_search(tmp_path / "killed", 5).returncode == 0

    def results(name):
        history = json.loads((tmp_path / name / "history.json").read_text())
        state = search.load_search(tmp_path / name, 5, SETTINGS)
        for record in history:
            record.pop("seconds")
        return history, np.asarray(state["strategy"].mean), state["best"]["parameters"]

    straight, killed = results("straight"), results("killed")
    assert straight[0] == killed[0]
    assert len(straight[0]) == 5 and "mean_score" in straight[0][1]
    np.testing.assert_array_equal(straight[1], killed[1])
    np.testing.assert_array_equal(straight[2], killed[2])


def test_a_searchs_first_generations_equal_a_search_run_that_long(tmp_path):
    assert run_search(tmp_path / "long", 5).returncode == 0
    assert run_search(tmp_path / "short", 4).returncode == 0
    shorter = dataclasses.replace(SETTINGS, generations=4)
    cut = search.first_generations(tmp_path / "long", 5, shorter, 4)
    ran = search.load_search(tmp_path / "short", 5, shorter)

    def timeless(history):
        return [
            {name: value for name, value in record.items() if name != "seconds"}
            for record in history
        ]

    assert timeless(cut["history"]) == timeless(ran["history"]) and cut["told"] == ran["told"]
    assert cut["generation"] == ran["generation"] == 4
    np.testing.assert_array_equal(cut["strategy"].mean, ran["strategy"].mean)
    for name in ("parameters", "score", "generation"):
        np.testing.assert_array_equal(cut["best"][name], ran["best"][name])


def test_a_cut_search_must_end_where_a_mean_is_scored_and_within_the_record(tmp_path):
    assert run_search(tmp_path, 5).returncode == 0
    with pytest.raises(ValueError, match="multiple of control.mean_evaluation_interval"):
        search.first_generations(tmp_path, 5, SETTINGS, 3)
    with pytest.raises(files.DataFileError, match="holds 5 generations, fewer than the 6"):
        search.first_generations(tmp_path, 5, SETTINGS, 6)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"generation": 2}'])
def test_a_corrupt_search_file_names_itself_and_the_fix(tmp_path, text):
    (tmp_path / "search.json").write_text(text)
    with pytest.raises(
        files.DataFileError, match=r"search.json is not a readable CMA-ES search.*Delete"
    ):
        search.load_search(tmp_path, 5, SETTINGS)


def test_a_search_is_saved_without_pickle(tmp_path):
    """A pickled search would run any code planted in it when loaded: only data is saved."""
    assert run_search(tmp_path / "search", 2).returncode == 0
    saved = sorted(path.name for path in (tmp_path / "search").iterdir())
    assert saved == ["best.npz", "history.json", "search.json"]
    with np.load(tmp_path / "search" / "best.npz", allow_pickle=False) as best:
        assert best["parameters"].shape == (5,)


def test_a_record_of_another_population_is_refused(tmp_path):
    assert run_search(tmp_path, 2).returncode == 0
    other = dataclasses.replace(SETTINGS, population_size=8)
    with pytest.raises(files.DataFileError, match="population of 6, not 8.*Delete"):
        search.load_search(tmp_path, 5, other)


def test_a_folder_without_a_search_has_none(tmp_path):
    assert search.load_search(tmp_path, 5, SETTINGS) is None
