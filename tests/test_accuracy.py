"""The model against published measured runs: the bounds of issue 3, run in CI."""

from __future__ import annotations

import statistics

import pytest
import yaml

from advisor.accuracy import FIT_ROWS, run_checks, summary
from advisor.catalog.loader import shipped_catalog_dir


@pytest.fixture(scope="module")
def checks():
    return run_checks()


def _group(checks, name):
    return [c for c in checks if c.group == name]


def test_korthikanti_table5_iteration_times(checks) -> None:
    # Korthikanti et al. 2022 Table 5: eight iteration times (full recompute; SP + selective).
    rows = _group(checks, "table5")
    assert len(rows) == 8
    errs = [abs(c.error) for c in rows]
    assert statistics.mean(errs) <= 0.05
    assert max(errs) <= 0.10


def test_megatron_table1_throughputs(checks) -> None:
    # Narayanan et al. 2021 Table 1: ten weak-scaling configurations, 1.7B to 1T.
    rows = _group(checks, "table1")
    assert len(rows) == 10
    assert all(abs(c.error) <= 0.10 for c in rows), [(c.id, round(c.error, 3)) for c in rows]


def test_llm_foundry_a100_rows(checks) -> None:
    rows = _group(checks, "llm-foundry")
    assert len(rows) >= 4
    assert all(abs(c.error) <= 0.15 for c in rows), [(c.id, round(c.error, 3)) for c in rows]


def test_held_out_rows_are_reported_apart(checks) -> None:
    s = summary(checks)
    held = [c for c in checks if not c.fitted]
    assert s["not fitted"]["n"] == len(held) >= 10
    assert {c.id for c in checks if c.fitted} == set(FIT_ROWS)


def test_shipped_fit_is_what_advisor_fit_computes() -> None:
    # The fitted A100 profile in profiles.yaml must be reproducible by advisor/fit.py.
    from advisor.fit import fit

    (e, f0, mem), _ = fit()
    data = yaml.safe_load((shipped_catalog_dir() / "profiles.yaml").read_text())
    prof = next(p for p in data["profiles"] if p["id"] == "a100-sxm4-80gb-fit")
    assert prof["matmul"]["bf16"]["max_efficiency"]["value"] == pytest.approx(e, abs=2e-3)
    assert prof["memory_bandwidth"]["max_efficiency"]["value"] == pytest.approx(mem, abs=2e-3)
    points = {float(f): float(v) for f, v in prof["matmul"]["bf16"]["points"]}
    assert points[1e10] == pytest.approx(e * 1e10 / (1e10 + f0), abs=5e-3)
