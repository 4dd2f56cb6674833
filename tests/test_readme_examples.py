"""Every command in the README's Examples block runs as written (files it names are
made in a temporary folder), so the README cannot drift from the CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_examples() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Examples\n+```bash\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    block = block.replace("\\\n", " ")
    out = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            assert words[0] == "advisor", line
            out.append(words[1:])
    return out


EXAMPLES = readme_examples()
# Examples that need torch and minutes of real training (tests/test_validate.py covers them).
SLOW = {"validate"}


def test_the_readme_has_examples_of_every_main_command() -> None:
    used = {args[0] for args in EXAMPLES}
    assert {"recommend", "estimate", "accuracy", "report", "catalog", "validate"} <= used


@pytest.mark.parametrize("args", [a for a in EXAMPLES if a[0] not in SLOW], ids=" ".join)
def test_readme_example_runs(cli, args: list[str], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    files = {
        "path/to/config.json": str(ROOT / "tests" / "data" / "llama-2-7b-config.json"),
        "my-prices.yaml": str(tmp_path / "my-prices.yaml"),
        "catalogs/v8/aws/vms.csv": str(ROOT / "tests" / "data" / "skypilot" / "aws" / "vms.csv"),
    }
    (tmp_path / "my-prices.yaml").write_text(
        "offerings:\n  - id: aws-p5.48xlarge\n"
        '    on_demand_usd_per_hour: {value: 40.0, source: "our contract", as_of: 2026-11-01}\n'
    )
    r = cli(*[files.get(a, a) for a in args])
    assert r.code == 0, r.err
    assert r.out.strip() or (tmp_path / args[args.index("--out") + 1]).stat().st_size > 0
