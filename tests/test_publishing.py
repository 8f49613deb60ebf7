"""The publishing workflow (.github/workflows/book.yml), which cannot run here: it must run the
README's two commands, as CI and a fresh clone do, and publish the book they built."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def readme_commands() -> list[str]:
    """The commands of the README's set-up block."""
    set_up = (ROOT / "README.md").read_text().split("## Set-up", 1)[1]
    block = set_up.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_the_workflow_runs_the_readmes_two_commands_then_publishes_the_built_book():
    build = yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]
    runs = [step["run"] for step in build["steps"] if "run" in step]
    assert [run for run in runs if run.startswith("make")] == readme_commands()
    assert any(re.search(r"apt-get install .*\bchromium\b", run) for run in runs)
    assert build["env"]["CI"] == "true", "without CI=true the browser tests would skip"
    upload = [step for step in build["steps"] if "upload-pages-artifact" in step.get("uses", "")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
