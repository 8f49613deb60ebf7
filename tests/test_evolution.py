"""Evolution strategies: benchmarks, (1,λ)-ES and the 1/5th success rule, and the from-scratch
CMA-ES against pycma."""

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


def tell_children(strategy, child_value, parent_value=0.0):
    """Ask for a generation and tell every child the same value (and the parent, if asked)."""
    population = strategy.ask()
    values = np.full(len(population), child_value)
    values[strategy.population_size :] = parent_value
    strategy.tell(population, values)
    return population


def test_success_rule_grows_sigma_while_children_beat_their_parent():
    strategy = evolution.SimpleES(
        np.zeros(10), 1.0, population_size=10, success_rule=evolution.SuccessRule(), seed=0
    )
    for generation in range(1, 6):  # every child better than its parent, the one before
        tell_children(strategy, child_value=-generation)
        assert strategy.sigma == pytest.approx(0.85**-generation)


def test_success_rule_shrinks_sigma_while_children_fail():
    strategy = evolution.SimpleES(
        np.zeros(10), 1.0, population_size=10, success_rule=evolution.SuccessRule(), seed=0
    )
    for generation in range(1, 6):  # every child worse than its parent
        tell_children(strategy, child_value=generation)
        assert strategy.sigma == pytest.approx(0.85**generation)


def test_success_means_better_than_the_parent_not_than_the_best_value_ever_seen():
    strategy = evolution.SimpleES(
        np.zeros(10), 1.0, population_size=10, success_rule=evolution.SuccessRule(), seed=0
    )
    tell_children(strategy, child_value=5.0, parent_value=0.0)  # all fail: σ × 0.85
    tell_children(strategy, child_value=3.0)  # better than their parent (5), not than 0
    assert strategy.sigma == pytest.approx(1.0)


def test_success_rule_checks_once_every_n_mutations():
    strategy = evolution.SimpleES(
        np.zeros(10), 1.0, population_size=5, success_rule=evolution.SuccessRule(), seed=0
    )
    sigmas = []
    for generation in range(1, 5):  # five mutations a generation, a check every ten
        tell_children(strategy, child_value=-generation)
        sigmas.append(strategy.sigma)
    np.testing.assert_allclose(sigmas, [1.0, 1 / 0.85, 1 / 0.85, 1 / 0.85**2])


@pytest.mark.parametrize(
    ("parents", "asks_for_parent"), [(1, [True, False, False]), (5, [True] * 3)]
)
def test_the_parent_is_evaluated_only_when_its_value_is_unknown(parents, asks_for_parent):
    """A (1,λ)-ES's parent is a child it has evaluated; a (μ/μ,λ)-ES's is a new mean."""
    strategy = evolution.SimpleES(
        np.zeros(4), 1.0, 10, parents, success_rule=evolution.SuccessRule(), seed=0
    )
    for asks in asks_for_parent:
        mean = strategy.mean.copy()
        population = tell_children(strategy, child_value=1.0)
        assert len(population) == 10 + asks
        if asks:
            np.testing.assert_array_equal(population[-1], mean)
    assert strategy.evaluations == 30 + sum(asks_for_parent)


@pytest.mark.parametrize("parents", [1, 5])
def test_success_rule_solves_the_sphere_in_10d(parents):
    strategy = evolution.SimpleES(
        np.full(10, 3.0), 0.5, 10, parents, success_rule=evolution.SuccessRule(), seed=0
    )
    evaluations, best = evolution.minimise(strategy, evolution.sphere, max_evaluations=5_000)
    assert best < 1e-8, (evaluations, best)


@pytest.mark.parametrize("parents", [1, 5])
def test_success_rule_holds_the_success_rate_near_one_in_five(parents):
    """On the sphere σ must keep shrinking as the search closes in, so the rate sits a little
    below 1/5 on average (above it, σ grows)."""
    strategy = evolution.SimpleES(
        np.full(10, 3.0), 0.5, 10, parents, success_rule=evolution.SuccessRule(), seed=0
    )
    rates = []
    for generation in range(400):
        population = strategy.ask()
        strategy.tell(population, evolution.sphere(population))
        if generation >= 100:
            rates.append(np.mean(strategy.successes))
    assert 0.1 < np.mean(rates) < 0.2


@pytest.mark.parametrize("parents", [1, 5])
def test_a_monotone_transformation_of_f_changes_nothing(parents):
    """Selection and the success rule only compare values, so f and exp(f) give the same run."""
    runs = []
    for function in (evolution.sphere, lambda x: np.exp(evolution.sphere(x))):
        strategy = evolution.SimpleES(
            np.full(5, 2.0), 0.5, 10, parents, success_rule=evolution.SuccessRule(), seed=3
        )
        records = evolution.record_run(strategy, function, 30)
        runs.append(([record["mean"] for record in records], strategy.sigma))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


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
        lambda: evolution.SimpleES(
            np.zeros(3), 1.0, 5, 2, success_rule=evolution.SuccessRule(), seed=0
        ),
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


# The controller's search dimension and population: C's 867 parameters, the small profile's 16.
DIMENSION, POPULATION = 867, 16


@pytest.fixture(scope="module")
def reference():
    """pycma's own textbook implementation's parameters (`cma.purecma`, Hansen's code)."""
    from cma import purecma

    return purecma.CMAESParameters(DIMENSION, POPULATION)


@pytest.fixture(scope="module")
def ours():
    return evolution.CMAParameters.defaults(DIMENSION, POPULATION)


def test_default_weights_and_selection_mass_equal_purecmas(ours, reference):
    assert ours.population_size == reference.lam and len(ours.weights) == reference.mu
    np.testing.assert_allclose(ours.weights, reference.weights[: reference.mu], rtol=1e-12)
    assert ours.mu_effective == pytest.approx(reference.mueff, rel=1e-12)


@pytest.mark.parametrize(
    ("ours_name", "purecma_name"),
    [("c_sigma", "cs"), ("c_c", "cc"), ("c_1", "c1"), ("c_mu", "cmu"), ("chi_n", "chiN")],
)
def test_default_learning_rates_equal_purecmas(ours, reference, ours_name, purecma_name):
    assert getattr(ours, ours_name) == pytest.approx(getattr(reference, purecma_name), rel=1e-12)


def test_default_damping_is_the_tutorials_not_purecmas_shortcut(ours, reference):
    """The tutorial's d_σ = 1 + 2 max(0, √((μ_eff − 1)/(n + 1)) − 1) + c_σ; purecma uses
    2 μ_eff/λ + 0.3 + c_σ instead, close to 1 but not equal."""
    mu_eff, n = reference.mueff, DIMENSION
    tutorial = 1 + 2 * max(0.0, np.sqrt((mu_eff - 1) / (n + 1)) - 1) + reference.cs
    assert ours.d_sigma == pytest.approx(tutorial, rel=1e-12)
    assert reference.damps == pytest.approx(2 * mu_eff / POPULATION + 0.3 + reference.cs)
    assert ours.d_sigma != pytest.approx(reference.damps, rel=1e-3)


def test_the_searchs_pycma_starts_from_the_same_rank_one_rate_and_weights(ours):
    """The controller's search runs pycma, whose c_1, c_c and positive weights are these too
    (its c_μ and its negative weights for the worst half are its own refinements)."""
    strategy = cma.CMAEvolutionStrategy(
        np.zeros(DIMENSION), 0.1, {"popsize": POPULATION, "verbose": -9, "verb_log": 0}
    )
    assert strategy.sp.c1 == pytest.approx(ours.c_1, rel=1e-12)
    assert strategy.sp.cc == pytest.approx(ours.c_c, rel=1e-12)
    assert strategy.sp.weights.mueff == pytest.approx(ours.mu_effective, rel=1e-12)
    positive = np.asarray(strategy.sp.weights)[: len(ours.weights)]
    np.testing.assert_allclose(positive, ours.weights, rtol=1e-12)
