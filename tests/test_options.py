"""Command-line options generated from the profiles' dataclasses and their docstrings."""

import argparse

import pytest

from wmlib import config, options

CI = config.get("ci")


def test_every_setting_has_a_dotted_name_its_value_and_its_docstring():
    found = options.settings(CI)
    value, doc = found["control.generations"]
    assert value == CI.control.generations and doc.startswith("CMA-ES generations")
    assert "name" not in found and "description" not in found and "task" not in found


def test_with_settings_replaces_only_the_given_ones():
    changed = options.with_settings(CI, {"control.generations": 3, "round": 1})
    assert changed.control.generations == 3 and changed.round == 1
    assert changed.control.population_size == CI.control.population_size
    assert changed.rollouts == CI.rollouts


def test_the_options_parse_into_the_settings_types():
    parser = argparse.ArgumentParser()
    options.add_setting_options(parser, CI)
    arguments = parser.parse_args(["--control.weight_decay", "0.5", "--control.generations", "3"])
    assert vars(arguments)["control.weight_decay"] == 0.5
    assert vars(arguments)["control.generations"] == 3
    assert vars(arguments)["rollouts.episodes"] == CI.rollouts.episodes


def test_a_tuple_option_reads_numbers_separated_by_commas():
    parser = argparse.ArgumentParser()
    options.add_setting_options(parser, CI)
    arguments = parser.parse_args(["--dream.temperatures", "0.1,1.15"])
    assert vars(arguments)["dream.temperatures"] == (0.1, 1.15)
    assert options.parse_numbers("2") == (2.0,)


def test_a_boolean_option_reads_true_and_false():
    assert options.parse_bool("yes") is True and options.parse_bool("False") is False


def test_a_setting_the_profile_leaves_at_none_reads_the_type_it_holds():
    assert CI.iteration.vision_frames is None and CI.z_only_generations is None
    parser = argparse.ArgumentParser()
    options.add_setting_options(parser, CI)
    arguments = parser.parse_args(["--iteration.vision_frames", "900", "--z_only_generations", "4"])
    assert vars(arguments)["iteration.vision_frames"] == 900
    assert vars(arguments)["z_only_generations"] == 4
    assert "--iteration.vision_frames INT" in parser.format_help()


def test_none_unsets_a_setting_that_may_be_none_and_only_such_a_setting():
    doom = config.get("small", "doom")
    assert doom.memory.augmentation == "mirror"
    parser = argparse.ArgumentParser()
    options.add_setting_options(parser, doom)
    arguments = parser.parse_args(["--memory.augmentation", "none", "--vision.precision", "None"])
    assert vars(arguments)["memory.augmentation"] is None
    assert vars(arguments)["vision.precision"] is None
    unset = vars(parser.parse_args(["--iteration.vision_frames", "none"]))
    assert unset["iteration.vision_frames"] is None
    assert "'none' unsets it" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--control.generations", "none"])
