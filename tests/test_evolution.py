"""Evolution strategies: benchmarks, (1,λ)-ES, and the from-scratch CMA-ES against pycma."""

import cma
import numpy as np
import pytest

from wmlib import evolution


@pytest.mark.parametrize("name", list(evolution.BENCHMARKS))
def test_benchmark_minimum(name):
    function, coordinate = evolution.BENCHMARKS[name]
    for dimension in (2, 10):
        assert function(np.full(dimension, coordinate)) == pytest.approx(0.0, abs=1e-12)
        nearby = np.full(dimension, coordinate) + 0.01 * np.random.default_rng(0).standard_normal(
            dimension
        )
        assert function(nearby) > 0.0


def test_benchmarks_evaluate_whole_populations():
    population = np.random.default_rng(1).standard_normal((7, 5))
    for function, _ in evolution.BENCHMARKS.values():
        np.testing.assert_allclose(function(population), [function(x) for x in population])


def test_rotation_is_orthogonal():
    rotation = evolution.rotation(6)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(6), atol=1e-12)


def test_one_comma_lambda_solves_the_sphere_in_10d():
    strategy = evolution.SimpleES(
        np.full(10, 3.0), 1.0, population_size=10, adapt_step_size=True, seed=0
    )
    evaluations, best = evolution.minimise(strategy, evolution.sphere, max_evaluations=50_000)
    assert best < 1e-8, (evaluations, best)


def test_fixed_step_size_stalls_at_a_noise_floor():
    strategy = evolution.SimpleES(np.full(10, 3.0), 0.3, population_size=10, seed=0)
    _, best = evolution.minimise(strategy, evolution.sphere, max_evaluations=20_000)
    assert best > 1e-3


def median_evaluations(make, function, x0, seeds=range(5)):
    return np.median([evolution.minimise(make(x0, seed), function)[0] for seed in seeds])


@pytest.mark.parametrize("name", ["sphere", "rotated ellipsoid", "rosenbrock"])
def test_cmaes_is_within_one_and_a_half_times_pycma(name):
    function, coordinate = evolution.BENCHMARKS[name]
    x0 = np.full(10, 3.0) if coordinate == 0.0 else np.zeros(10)
    ours = median_evaluations(lambda x, seed: evolution.CMAES(x, 1.0, seed=seed), function, x0)
    options = {"CMA_active": False, "verbose": -9, "popsize": 10}
    theirs = median_evaluations(
        lambda x, seed: cma.CMAEvolutionStrategy(x, 1.0, {**options, "seed": seed + 1}),
        function,
        x0,
    )
    assert ours <= 1.5 * theirs, (ours, theirs)


def test_covariance_stays_symmetric_positive_definite():
    strategy = evolution.CMAES(np.zeros(10), 1.0, seed=3)
    for _ in range(300):
        solutions = strategy.ask()
        strategy.tell(solutions, evolution.rosenbrock(solutions))
        np.testing.assert_array_equal(strategy.covariance, strategy.covariance.T)
        assert np.linalg.eigvalsh(strategy.covariance).min() > 0


def test_default_parameters_follow_the_tutorial():
    parameters = evolution.CMAParameters.defaults(10)
    assert parameters.population_size == 10 and len(parameters.weights) == 5
    assert parameters.weights.sum() == pytest.approx(1.0)
    assert np.all(np.diff(parameters.weights) < 0)
    assert parameters.c_1 + parameters.c_mu <= 1
    assert parameters.chi_n == pytest.approx(np.sqrt(10), rel=0.03)


@pytest.mark.parametrize(
    "make",
    [
        lambda: evolution.CMAES(np.zeros(3), 1.0, seed=0),
        lambda: evolution.SimpleES(np.zeros(3), 1.0, population_size=5, seed=0),
    ],
)
def test_ask_tell_errors_are_clear(make):
    strategy = make()
    with pytest.raises(evolution.AskTellError, match="before ask"):
        strategy.tell(np.zeros((5, 3)), np.zeros(5))
    solutions = strategy.ask()
    with pytest.raises(
        evolution.AskTellError, match=rf"got 2 function values for a population of {len(solutions)}"
    ):
        strategy.tell(solutions, [0.0, 1.0])


def test_record_run_keeps_what_each_generation_was_drawn_from():
    strategy = evolution.CMAES(np.array([1.0, -1.0]), 0.5, seed=0)
    records = evolution.record_run(strategy, evolution.sphere, 3)
    assert len(records) == 3 and strategy.generation == 3
    np.testing.assert_array_equal(records[0]["mean"], [1.0, -1.0])
    np.testing.assert_array_equal(records[0]["covariance"], np.eye(2))
    assert records[1]["population"].shape == (strategy.parameters.population_size, 2)
    np.testing.assert_allclose(records[2]["values"], evolution.sphere(records[2]["population"]))
