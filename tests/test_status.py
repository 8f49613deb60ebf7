"""The methods page's status tables come from the manifests and the saved chapters."""

import json

import nbformat

from wmlib import pipeline, status


def test_stage_rows_come_from_the_manifests(tiny_profile):
    pipeline.ensure_episodes(tiny_profile, workers=1)
    manifest = pipeline.read_manifest(pipeline.episodes_dir(tiny_profile))
    rows = status.stage_rows(tiny_profile)
    assert len(rows) == 1
    name, profile, machine, seconds, summary = rows[0]
    assert (name, profile) == ("episodes", "tiny")
    assert machine.startswith(manifest["machine"])
    assert seconds == status.duration(manifest["seconds"])
    assert "episodes 3" in summary and "steps 30" in summary


def test_a_chapter_row_reads_the_profile_and_the_cell_timings(tmp_path):
    profile_cell = nbformat.v4.new_code_cell("print(profile.describe())")
    profile_cell.outputs = [nbformat.v4.new_output("stream", text="Profile 'small': ...\n")]
    last = nbformat.v4.new_code_cell("x = 1")
    profile_cell.metadata["execution"] = {"iopub.execute_input": "2026-11-25T10:00:00.000000Z"}
    last.metadata["execution"] = {"shell.execute_reply": "2026-11-25T10:03:30.000000Z"}
    notebook = nbformat.v4.new_notebook(cells=[profile_cell, last])
    path = tmp_path / "08_control.ipynb"
    path.write_text(json.dumps(notebook))
    assert status.chapter_row(path) == ["08_control", "small", "2026-11-25", "3.5 min"]


def test_an_unexecuted_chapter_says_so(tmp_path):
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])))
    assert status.chapter_row(path)[3] == "not executed"


def test_a_chapter_whose_last_cells_never_ran_says_so(tmp_path):
    path = tmp_path / "01_x.ipynb"
    ran, added = nbformat.v4.new_code_cell("1"), nbformat.v4.new_code_cell("2")
    ran.metadata["execution"] = {
        "iopub.execute_input": "2026-11-25T10:00:00.000000Z",
        "shell.execute_reply": "2026-11-25T10:00:01.000000Z",
    }
    path.write_text(json.dumps(nbformat.v4.new_notebook(cells=[ran, added])))
    assert status.chapter_row(path)[3] == "not executed to the end"


def test_durations_read_naturally():
    assert [status.duration(s) for s in (42, 750, 3 * 3600 + 720)] == ["42 s", "12.5 min", "3.2 h"]
