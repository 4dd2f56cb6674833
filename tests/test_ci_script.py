"""CI proves the README's set-up (issue 9): `.ci/run` runs the README's test command
first, in a fresh virtual environment, with nothing installed before it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_block(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip()  # type: ignore[union-attr]


def test_ci_runs_the_readme_test_command_before_installing_anything() -> None:
    command = readme_block("Test")
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    code = [ln for ln in lines if ln and not ln.startswith("#")]
    assert command in code, f"{command!r} is not a line of .ci/run"
    before = code[: code.index(command)]
    assert any(re.match(r"python3? -m venv \.venv$", ln) for ln in before)
    installs = [ln for ln in before if re.search(r"\b(pip|apt-get|uv)\b.*\binstall\b", ln)]
    assert installs == [], installs
