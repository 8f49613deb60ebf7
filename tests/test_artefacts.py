"""When an artefact on disk may be reused, continued or must be refused."""

import pytest

from wmlib import __version__, artefacts

SETTINGS = {"rollouts": {"episodes": 3, "max_steps": 10}, "control": {"generations": 2}}
BUDGET = ("rollouts.episodes", "control.generations")


def manifest(settings=SETTINGS, version=__version__):
    return {"profile": "ci", "settings": settings, "wmlib_version": version}


def with_setting(section: str, field: str, value) -> dict:
    return {**SETTINGS, section: {**SETTINGS[section], field: value}}


def test_settings_are_flattened_to_dotted_names():
    assert artefacts.flatten(SETTINGS) == {
        "rollouts.episodes": 3,
        "rollouts.max_steps": 10,
        "control.generations": 2,
    }


def test_an_artefact_of_the_same_settings_is_reused_as_it_is(tmp_path):
    assert artefacts.check_reusable(tmp_path, manifest(), SETTINGS, BUDGET) is False


def test_an_artefact_whose_budget_grew_is_continued(tmp_path):
    grown = with_setting("control", "generations", 3)
    assert artefacts.check_reusable(tmp_path, manifest(), grown, BUDGET) is True


def test_an_artefact_whose_budget_shrank_is_refused(tmp_path):
    shrunk = with_setting("control", "generations", 1)
    with pytest.raises(artefacts.ArtefactMismatchError, match=r"control.generations 2 → 1"):
        artefacts.check_reusable(tmp_path, manifest(), shrunk, BUDGET)


def test_an_artefact_of_other_settings_is_refused_naming_them(tmp_path):
    changed = with_setting("rollouts", "max_steps", 11)
    with pytest.raises(
        artefacts.ArtefactMismatchError, match=r"rollouts.max_steps 10 → 11.*Delete"
    ):
        artefacts.check_reusable(tmp_path, manifest(), changed, BUDGET)


def test_an_artefact_of_another_major_version_is_refused_naming_both(tmp_path):
    with pytest.raises(artefacts.ArtefactMismatchError, match=rf"99\.0\.0.*{__version__}"):
        artefacts.check_reusable(tmp_path, manifest(version="99.0.0"), SETTINGS, BUDGET)


def test_build_records_the_summary_and_skips_a_complete_artefact(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return {"episodes": 3}

    first = artefacts.build(tmp_path, "ci", SETTINGS, make)
    again = artefacts.build(tmp_path, "ci", SETTINGS, make)
    assert first["complete"] and first["summary"] == {"episodes": 3}
    assert again == first and len(calls) == 1
    assert artefacts.read_manifest(tmp_path) == first
