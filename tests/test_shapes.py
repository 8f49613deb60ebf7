"""Search shapes: each doubles one factor of a generation's driving and keeps the total."""

import pytest

from wmlib import config, pipeline

SMALL = config.get("small").control


def driving(control):
    return (
        control.generations
        * control.population_size
        * control.episodes_per_candidate
        * control.training_steps
    )


@pytest.mark.parametrize("name", list(pipeline.SHAPES))
def test_every_shape_drives_about_as_much_as_the_profiles_search(name):
    shaped = pipeline.shape_control(SMALL, pipeline.SHAPES[name])
    assert abs(driving(shaped) - driving(SMALL)) <= driving(SMALL) / SMALL.generations
    assert shaped.mean_evaluation_episodes == SMALL.mean_evaluation_episodes


def test_the_first_shape_is_the_profiles_own_search():
    assert pipeline.shape_control(SMALL, next(iter(pipeline.SHAPES.values()))) == SMALL


def test_a_shape_doubles_one_factor_and_halves_the_generations():
    shaped = pipeline.shape_control(SMALL, {"population_size": 2})
    assert shaped.population_size == 2 * SMALL.population_size
    assert shaped.generations == round(SMALL.generations / 2)


def test_training_episodes_never_grow_past_the_evaluations_length():
    full = pipeline.shape_control(config.get("paper").control, {"training_steps": 2})
    assert full.training_steps == 1000 and full.generations == 1800
