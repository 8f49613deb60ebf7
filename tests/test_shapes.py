"""Search shapes: each doubles one factor of a generation's driving and keeps the total."""

from dataclasses import replace

import pytest

from wmlib import config, pipeline

SMALL = config.get("small").control
BUDGET = config.get("small").comparison_generations


def driving(control):
    return (
        control.generations
        * control.population_size
        * control.episodes_per_candidate
        * control.training_steps
    )


@pytest.mark.parametrize("name", list(pipeline.SHAPES))
def test_every_shape_drives_about_as_much_as_the_profiles_shape_at_the_budget(name):
    own = replace(SMALL, generations=BUDGET)
    shaped = pipeline.shape_control(SMALL, pipeline.SHAPES[name], BUDGET)
    assert abs(driving(shaped) - driving(own)) <= driving(own) / BUDGET
    assert shaped.mean_evaluation_episodes == SMALL.mean_evaluation_episodes


def test_the_first_shape_is_the_profiles_own_search_at_the_comparisons_budget():
    first = pipeline.shape_control(SMALL, next(iter(pipeline.SHAPES.values())), BUDGET)
    assert first == replace(SMALL, generations=BUDGET)


def test_the_comparisons_budget_does_not_follow_the_profiles_own_generations():
    longer = replace(SMALL, generations=4 * SMALL.generations)
    for factors in pipeline.SHAPES.values():
        assert pipeline.shape_control(longer, factors, BUDGET) == pipeline.shape_control(
            SMALL, factors, BUDGET
        )


def test_a_shape_doubles_one_factor_and_halves_the_generations():
    shaped = pipeline.shape_control(SMALL, {"population_size": 2}, BUDGET)
    assert shaped.population_size == 2 * SMALL.population_size
    assert shaped.generations == round(BUDGET / 2)


def test_training_episodes_never_grow_past_the_evaluations_length():
    full = pipeline.shape_control(config.get("paper").control, {"training_steps": 2}, 1800)
    assert full.training_steps == 1000 and full.generations == 1800
