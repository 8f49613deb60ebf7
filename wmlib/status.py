"""The status page (chapter 10: methods): what was run, at which profile, on what, how long.

Every artefact's manifest records its profile, machine, time taken and a summary; every chapter
saved by `make execute` records when each cell ran and prints its profile first. This module
reads both and writes the table `book/status_table.md` that the methods page includes, so the
page states what the code measured, never what someone typed.
"""

import datetime
import json
import re
from pathlib import Path

from wmlib import config
from wmlib.artefacts import read_manifest
from wmlib.stages import BY_NAME, ROUND_STAGES, for_task

PROFILE_LINE = re.compile(r"Profile '(\w+)'")


def duration(seconds: float) -> str:
    """Seconds as a short reading: '42 s', '12.5 min' or '3.2 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def summary_text(stage, manifest: dict) -> str:
    """A finished stage's summary fields as one short line: "episodes 200, mean 480.3"."""
    values = {key: manifest["summary"][key] for key in stage.summary}
    return ", ".join(
        f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in values.items()
    )


def stage_rows(profile: config.Profile) -> list[list[str]]:
    """One row per pipeline stage whose manifest exists: name, profile, machine, time, summary;
    then one per stage of each later round of iterative training."""
    rounds = [(stage, profile, stage.label) for stage in for_task(profile)]
    rounds += [
        (BY_NAME[name], config.at_round(profile, number), f"{BY_NAME[name].label}, round {number}")
        for number in range(1, profile.iteration.rounds + 1)
        for name in ROUND_STAGES
    ]
    rows = []
    for stage, round_profile, label in rounds:
        manifest = read_manifest(stage.directory(round_profile))
        if manifest is None:
            continue
        if not manifest["complete"]:
            rows.append([label, manifest["profile"], "", "unfinished", ""])
            continue
        rows.append(
            [
                label,
                manifest["profile"],
                f"{manifest['machine']}, {manifest['finished'][:10]}",
                duration(manifest["seconds"]),
                summary_text(stage, manifest),
            ]
        )
    return rows


def chapter_row(path: Path) -> list[str]:
    """A saved chapter's profile (from its printed first line), when it ran and how long."""
    cells = json.loads(path.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    printed = "".join(
        "".join(output.get("text", "")) for cell in code[:2] for output in cell.get("outputs", [])
    )
    match = PROFILE_LINE.search(printed)
    times = [cell["metadata"].get("execution", {}) for cell in code]
    if not times or "iopub.execute_input" not in times[0]:
        return [path.stem, match.group(1) if match else "", "", "not executed"]
    if "shell.execute_reply" not in times[-1]:
        return [path.stem, match.group(1) if match else "", "", "not executed to the end"]
    start = datetime.datetime.fromisoformat(times[0]["iopub.execute_input"])
    end = datetime.datetime.fromisoformat(times[-1]["shell.execute_reply"])
    seconds = (end - start).total_seconds()
    return [path.stem, match.group(1) if match else "", f"{start:%Y-%m-%d}", duration(seconds)]


def table(rows: list[list[str]], header: list[str]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def every_task_rows(profile: config.Profile) -> list[list[str]]:
    """The stage rows of the profile's task, then those of the other tasks at the profile of
    the same name, each such row's stage named with its task ("doom: V (vae)")."""
    from wmlib.env import TASKS

    rows = stage_rows(profile)
    for task in TASKS:
        if task != profile.task:
            other = stage_rows(config.get(profile.name, task))
            rows += [[f"{task}: {row[0]}", *row[1:]] for row in other]
    return rows


def status_page(profile: config.Profile, book: Path) -> str:
    """The two tables of the methods page: pipeline stages (every task's), then chapters."""
    header = ["stage", "profile", "machine, date", "time", "result"]
    stages = table(every_task_rows(profile), header)
    chapters = table(
        [chapter_row(path) for path in sorted(Path(book).glob("*.ipynb"))],
        ["chapter", "profile", "run on", "time"],
    )
    return f"{stages}\n\n{chapters}\n"
