"""The task registry: a task is asked for by name, and a wrong name is refused clearly."""

import pytest

from wmlib import env
from wmlib.env import carracing
from wmlib.errors import WorldModelsError


def test_a_task_is_found_by_its_name():
    assert env.task("carracing") is carracing.TASK


def test_an_unknown_task_is_refused_listing_the_known_ones():
    with pytest.raises(env.TaskError, match=r"Unknown task 'nothing'; choose one of carracing"):
        env.task("nothing")


def test_a_task_error_is_a_value_error_the_command_line_prints_in_one_line():
    assert issubclass(env.TaskError, ValueError) and issubclass(env.TaskError, WorldModelsError)


def test_carracing_task_describes_carracing():
    task = carracing.TASK
    assert task.name == "carracing" and task.action_size == 3
    assert (task.episode_steps, task.frames_per_second) == (1000, 50)
    assert task.preprocess is carracing.preprocess
    assert task.controller_action is carracing.controller_action
    assert list(task.policies) == ["random_weights", "brownian", "uniform", "cauchy_weights"]


def test_make_policy_gives_a_fresh_policy_of_the_named_class():
    first, second = (carracing.TASK.make_policy("brownian") for _ in range(2))
    assert isinstance(first, carracing.BrownianPolicy) and first is not second


def test_an_unknown_policy_is_refused_listing_the_known_ones():
    with pytest.raises(env.TaskError, match="random_weights, brownian, uniform"):
        carracing.TASK.make_policy("greedy")
