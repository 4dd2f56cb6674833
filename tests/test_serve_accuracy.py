"""The published serving rows and their leave-one-source-out check (issue 15, item 4)."""

from __future__ import annotations

import csv
import json

import numpy as np

from advisor.serve.accuracy import serving_document
from advisor.serve.fit import _train, fit_document, grid_predictions
from advisor.serve.runs import RUNS_FILE, load_rows


def test_shipped_rows_carry_their_sources() -> None:
    with RUNS_FILE.open(encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    assert len(raw) == 112
    assert all(r["source"].strip() for r in raw)
    rows, skipped = load_rows()
    assert len(rows) + len(skipped) == len(raw)
    assert all(why for why in skipped.values())


def test_trt061_per_gpu_rows_are_scaled_to_the_system() -> None:
    rows, _ = load_rows()
    r = next(x for x in rows if x.id == "trt061-h100-70b-tp2-bs1024-128-128")
    assert r.throughput == 2657 * 2


def test_a_fold_never_sees_its_own_source() -> None:
    rows, _, _ = grid_predictions()
    for source in {r.source for r in rows}:
        for engine in {r.engine for r in rows}:
            train, _ = _train(rows, engine, source)
            assert all(r.source != source for r in train)


def test_document_summary_matches_its_rows_and_has_the_napkin() -> None:
    doc = serving_document()
    checks = doc["checks"]
    assert {c["metric"] for c in checks} == {"throughput", "tpot", "ttft"}
    for m in ("throughput", "tpot", "ttft"):
        errs = [abs(c["error"]) for c in checks if c["metric"] == m]
        assert doc["summary"][m]["cv"]["median_abs_error"] == float(np.median(errs))
        assert doc["summary"][m]["napkin"]["n"] == len(errs)
    assert all("napkin_error" in c for c in checks)


def test_shipped_fit_is_the_fit_of_the_shipped_rows() -> None:
    """advisor/data/serve_fit.yaml is what `python -m advisor.serve.fit --write` writes."""
    from advisor.serve.fitted import fit_data

    fresh = fit_document()
    shipped = fit_data()
    for engine, f in fresh["factors"].items():
        for key in ("a_mem", "a_cmp", "a_pre", "step_overhead_s", "seq_overhead_s", "max_seqs"):
            assert shipped["factors"][engine][key] == f[key], (engine, key)
    assert shipped["ranges"]["throughput"] == fresh["ranges"]["throughput"]


def test_accuracy_json_has_a_serving_key(cli) -> None:
    r = cli("accuracy", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["serving"]["summary"]["throughput"]["cv"]["n"] > 50
