"""Faults and hostile input: interrupts keep what finished, folders are never
overwritten, and no code path evaluates or unpickles user files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import assert_user_error

ROOT = Path(__file__).resolve().parent.parent


def test_interrupted_bench_keeps_a_valid_results_file(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor.cli.app", "bench", "--quick", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists():
            try:
                done = len(json.loads(out.read_text())["results"])
            except (json.JSONDecodeError, KeyError):
                done = 0
            if done >= 1:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "the quick suite finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err
    data = json.loads(out.read_text())
    assert len(data["results"]) >= done >= 1
    assert not [p for p in tmp_path.iterdir() if p.name != "bench.json"], "temporary files left"


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "--quick", "--only", "membw", "--out", "{d}"],
        ["calibrate", "{f}", "--out", "{d}"],
        ["report", "--params", "125M", "--budget", "500", "--out", "{d}"],
    ],
)
def test_a_folder_is_never_overwritten(cli, tmp_path: Path, args) -> None:
    d = tmp_path / "keep"
    d.mkdir()
    (d / "precious.txt").write_text("mine")
    f = tmp_path / "results.json"
    f.write_text("{}")
    r = cli(*[a.format(d=d, f=f) for a in args])
    assert r.code in (1, 2) and "Traceback" not in r.err
    assert [p.name for p in d.iterdir()] == ["precious.txt"]
    assert (d / "precious.txt").read_text() == "mine"


FORBIDDEN = [
    (r"\beval\(", "eval"),
    (r"\bexec\(", "exec"),
    (r"\bpickle\b", "pickle"),
    (r"torch\.load\(", "torch.load"),
    (
        r"yaml\.(unsafe_load|full_load)\(|Loader=yaml\.(Loader|FullLoader|UnsafeLoader)",
        "unsafe YAML",
    ),
    (r"shell=True", "shell=True"),
    (r"\bos\.system\(", "os.system"),
]


def test_no_eval_exec_or_pickle_on_user_files() -> None:
    hits = []
    for folder in ("advisor", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                for pattern, what in FORBIDDEN:
                    if re.search(pattern, code):
                        hits.append(f"{path.relative_to(ROOT)}:{n}: {what}")
    assert not hits, hits


def test_yaml_loader_is_a_safe_loader() -> None:
    import yaml

    from advisor.catalog import loader

    assert issubclass(
        loader._UniqueKeyLoader, (yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    )


def test_html_and_markdown_escape_user_strings(cli, tmp_path: Path) -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "_name_or_path": evil,
                "model_type": "llama",
                "hidden_size": 512,
                "num_hidden_layers": 4,
                "num_attention_heads": 8,
                "intermediate_size": 1376,
                "vocab_size": 32000,
                "max_position_embeddings": 1024,
            }
        )
    )
    for fmt in ("html", "md"):
        out = tmp_path / f"r.{fmt}"
        r = cli(
            "report", "--hf-config", str(cfg), "--budget", "500", "--format", fmt, "--out", str(out)
        )
        assert r.code == 0, r.err
        text = out.read_text()
        assert "<script>alert" not in text
        assert "&lt;script&gt;" in text or "\\<script\\>" in text


def test_deadline_in_the_past_is_refused_by_every_command_that_takes_one(cli) -> None:
    for cmd in ("recommend", "report"):
        assert_user_error(
            cli(cmd, "--params", "125M", "--deadline", "2001-01-01"), 2, "in the past"
        )


ARGS = ["--params", "1.3B", "--budget", "5000", "--top", "1000"]


@pytest.mark.parametrize("fmt", ["--csv", "--json"])
def test_output_into_a_closed_pipe_exits_0_quietly(fmt: str) -> None:
    # `advisor recommend ... --csv | head -1`: the reader is gone before we write.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "advisor.cli.app", "recommend", *ARGS, fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""
