"""Serving on the local device: advisor bench's prefill and decode benchmarks and
`advisor validate --serving` (issue 15, item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.benchmarks import BENCHMARKS
from advisor.benchmarks.harness import summarize
from advisor.benchmarks.results import GenerateRow, GPTShape
from advisor.calibrate import write_profile
from advisor.catalog import load_catalog
from advisor.serve import validate as sv
from tests.test_validate import profile

SHAPE = GPTShape(name="gpt-serve", layers=2, hidden=256, heads=4, vocab=2048, seq_len=512)


def _row(phase: str, batch: int, seconds: float) -> GenerateRow:
    tokens = batch if phase == "decode" else batch * 64
    return GenerateRow(
        phase=phase, device="cpu", precision="fp32", model=SHAPE, params=1, batch=batch,
        prompt_len=64, context=64, tokens=tokens, time=summarize([seconds] * 3, warmup=1),
        tokens_per_s=tokens / seconds,
    )  # fmt: skip


def test_prefill_and_decode_are_in_the_suite() -> None:
    assert BENCHMARKS["prefill"][0] == BENCHMARKS["decode"][0] == "local"


def test_decode_prediction_grows_with_batch_and_errors_are_measured_against() -> None:
    rows = [_row("decode", 1, 0.002), _row("decode", 16, 0.004), _row("prefill", 1, 0.01)]
    doc = sv.serving_check(profile(), load_catalog(), "cpu", True, measure=lambda *a: rows)
    d1, d16, pre = doc["checks"]
    assert d16["predicted_tokens_per_s"] > d1["predicted_tokens_per_s"]
    assert d1["error"] == pytest.approx(d1["predicted_tokens_per_s"] / 500.0 - 1)
    assert pre["phase"] == "prefill" and pre["predicted_tokens_per_s"] > 0
    assert doc["median_abs_error"] is not None and doc["passed"] in (True, False)


def test_benchmarks_run_tiny_and_validate_serving_cli(cli, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    r = cli("bench", "--only", "prefill,decode", "--tiny", "--device", "cpu", "-o", out)
    assert r.code == 0, r.err
    doc = json.loads(out.read_text())
    rows = [row for res in doc["results"] for row in res["rows"]]
    phases = {row["phase"] for row in rows}
    assert phases == {"prefill", "decode"} and all(row["tokens_per_s"] > 0 for row in rows)
    prof = tmp_path / "profile.yaml"
    write_profile(profile(), prof)
    sv_out = tmp_path / "serving.json"
    r = cli(
        "validate", "--profile", prof, "--serving", "--quick", "--threads", "1", "--out", sv_out
    )
    assert r.code == 0, r.err
    assert "predicted against measured tokens/s" in r.out
    saved = json.loads(sv_out.read_text())
    assert {c["phase"] for c in saved["checks"]} == {"prefill", "decode"}
