"""When an artefact on disk may be reused, continued or must be refused."""

import threading
import time

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


def make_summary(calls: list):
    """A build step that counts its calls."""

    def make():
        calls.append(1)
        return {"calls": len(calls)}

    return make


@pytest.mark.parametrize("text", ["{}", "[]", '{"profile": "ci"}', "{not json"])
def test_a_manifest_of_the_wrong_shape_is_rebuilt_from_the_files_present(tmp_path, capsys, text):
    (tmp_path / "kept.npz").write_bytes(b"an episode recorded before")
    (tmp_path / artefacts.MANIFEST).write_text(text)
    calls = []
    manifest = artefacts.build(tmp_path, "ci", SETTINGS, make_summary(calls))
    assert manifest["complete"] and calls == [1]
    assert (tmp_path / "kept.npz").read_bytes() == b"an episode recorded before"
    assert "manifest.json is not a valid manifest" in capsys.readouterr().err


def test_a_result_whose_input_was_rebuilt_is_refused_with_the_fix(tmp_path):
    upstream, downstream = tmp_path / "vae", tmp_path / "latents"
    artefacts.build(upstream, "ci", SETTINGS, make_summary([]))
    artefacts.build(downstream, "ci", SETTINGS, make_summary([]), inputs={"vae": upstream})
    artefacts.build(downstream, "ci", SETTINGS, make_summary([]), inputs={"vae": upstream})
    (upstream / artefacts.MANIFEST).unlink()
    artefacts.build(upstream, "ci", SETTINGS, make_summary([]))  # V rebuilt: a new build
    with pytest.raises(
        artefacts.ArtefactMismatchError, match=r"built from another vae.*rebuilt since.*Delete"
    ):
        artefacts.build(downstream, "ci", SETTINGS, make_summary([]), inputs={"vae": upstream})


def test_a_second_run_waits_for_the_first_and_reuses_what_it_built(tmp_path, capsys):
    calls = []

    def slow_make():
        time.sleep(1.0)
        return make_summary(calls)()

    first = threading.Thread(target=artefacts.build, args=(tmp_path, "ci", SETTINGS, slow_make))
    first.start()
    time.sleep(0.3)
    second = artefacts.build(tmp_path, "ci", SETTINGS, slow_make)
    first.join()
    assert calls == [1] and second["summary"] == {"calls": 1}
    assert "waiting for another run" in capsys.readouterr().err


def test_partial_files_left_by_a_killed_write_are_removed_when_a_build_starts(tmp_path):
    for name in (".episode_00001.npz.partial", ".partial.vae.keras"):
        (tmp_path / name).write_bytes(b"half a file")
    artefacts.build(tmp_path, "ci", SETTINGS, make_summary([]))
    assert not list(tmp_path.glob("*partial*"))


def test_a_build_killed_midway_keeps_the_time_it_had_taken(tmp_path, monkeypatch):
    monkeypatch.setattr(artefacts, "TIME_KEEPING_SECONDS", 0.05)

    def killed_make():
        time.sleep(0.5)
        raise KeyboardInterrupt  # like a kill, it leaves only what was already on disk

    with pytest.raises(KeyboardInterrupt):
        artefacts.build(tmp_path, "ci", SETTINGS, killed_make)
    interrupted = artefacts.read_manifest(tmp_path)
    assert not interrupted["complete"] and interrupted["seconds"] >= 0.4
    resumed = artefacts.build(tmp_path, "ci", SETTINGS, make_summary([]))
    assert resumed["complete"] and resumed["seconds"] >= interrupted["seconds"]
