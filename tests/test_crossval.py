"""Issue 10: every published row checked or listed, the model's error measured by
leave-one-source-out cross-validation (not in-sample), and ranges from that error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

import advisor
from advisor.crossval import (
    base_predictions,
    cross_validate,
    fit_document,
    fit_factor,
    shrink_weight,
    steady,
    summary,
)
from advisor.runs import load_runs, needs_feature

DATA = Path(advisor.__file__).parent / "data"


@pytest.fixture(scope="module")
def cv():
    # Base predictions do not depend on the held-out source (the fit is a post-hoc
    # factor): computed once for every fold.
    preds, skipped = base_predictions()
    return preds, skipped, cross_validate(preds, shrink_weight(preds))


def test_every_published_row_is_checked_or_listed_with_a_reason(cv) -> None:
    _, skipped, rows = cv
    ids = []
    for name in ("published_runs.csv", "published_runs_2.csv"):
        with (DATA / name).open(newline="", encoding="utf-8") as f:
            ids += [r["id"] for r in csv.DictReader(f)]
    with (DATA / "published_runs_2.csv").open(newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) == 131
    from advisor.moe_fit import moe_base_predictions

    moe, moe_failed = moe_base_predictions()  # MoE rows: cross-validated apart
    assert len(moe) == 10 and not moe_failed
    checked = [r.id for r in rows] + [p.id for p in moe]
    assert sorted(ids) == sorted(checked + list(skipped))
    assert all(why for why in skipped.values())
    assert len(rows) >= 95  # 98 since context parallelism, uneven stages, fp4, GB300


def test_whole_run_rows_are_reported_apart(cv) -> None:
    _, _, rows = cv
    whole = {r.id for r in rows if r.whole_run}
    assert "nemotron4-340b-6144" in whole  # one stage of a real run, not a benchmark
    s = summary(rows)
    assert s["whole_run"]["cv"]["n"] == len(whole)
    assert s["steady_state"]["cv"]["n"] == len(rows) - len(whole)


def test_each_row_is_predicted_without_its_own_source(cv) -> None:
    preds, _, rows = cv
    by_id = {p.id: p for p in preds}
    w = shrink_weight(preds)
    for r in rows:
        train = [q for q in steady(preds) if q.source != r.source]
        f, group, used = fit_factor(train, r.stack, r.family, w)
        assert r.factor == pytest.approx(f) and r.factor_group == group
        assert all(by_id[i].source != r.source for i in used)


def test_cross_validated_error_on_steady_state_rows(cv) -> None:
    # Measured (advisor accuracy, 96 steady-state rows): CV median 8.9%, p90 39.7%;
    # napkin median 23.8%. Bounds: what is measured plus a small margin. Issue 10's
    # target (8%) is not met: torchtitan's 34 rows (one project, 500 W H100s the catalog
    # does not have) are the reason, see the closing note.
    _, _, rows = cv
    s = summary(rows)["steady_state"]
    assert s["cv"]["median_abs_error"] <= 0.095
    assert s["cv"]["p90_abs_error"] <= 0.44
    assert s["cv"]["median_abs_error"] <= 0.5 * s["napkin"]["median_abs_error"]


def test_cross_validated_error_per_source(cv) -> None:
    _, _, rows = cv
    by = summary(rows)["by_source"]
    for src in (
        "korthikanti-2022",
        "megatron-lm-2021",
        "megatron-core-readme",
        "nemo-24.07",
        "llm-foundry",
    ):
        assert by[src]["cv"]["median_abs_error"] <= 0.09, src
    assert by["megatron-bridge"]["cv"]["median_abs_error"] <= 0.11
    assert by["torchtitan"]["cv"]["median_abs_error"] <= 0.32


def test_shipped_fit_is_what_crossval_computes() -> None:
    shipped = yaml.safe_load((DATA / "stack_fit.yaml").read_text())
    now = fit_document()
    assert shipped["source"] == "FIT-PUBLISHED"
    assert shipped["factors"] == now["factors"]
    assert shipped["ranges"] == now["ranges"]
    for g in shipped["factors"].values():
        assert g["rows"]  # each number with the rows it was fitted on


def test_rows_needing_a_missing_feature_say_which(cv) -> None:
    runs = {r.id: r for r in load_runs()}
    checked = {r.id for r in cv[2]}
    # Lit up by the features that landed: context parallelism, uneven pipeline stages,
    # FP4 on GB300, NVL72 domains.
    for rid in (
        "nemo2407-llama3-8b-8",  # CP 2
        "tt-405b-512gpu-1f1b",  # 126 layers on 16 stages
        "mbridge2511-gb300-llama3_8b-fp8-cs-8",  # GB300
    ):
        assert runs[rid].reason is None and rid in checked, rid
    # Mixture-of-experts rows are checked since expert parallelism; GPT-OSS's shape is not
    # sourced, and its rows say so.
    assert runs["mbridge2509-h100-dsv3-fp8-1024"].reason is None
    oss = runs["mbridge260401-h100-gptoss_120b-bf16-64"]
    assert oss.reason is not None and "GPT-OSS shape not fully sourced" in oss.reason
    assert needs_feature(oss) is not None


def test_estimate_json_carries_ranges(cli) -> None:
    r = cli(
        "estimate", "--params", "1.3B", "--accelerator", "h100-sxm5-80gb", "--count", "8", "--json"
    )
    assert r.code == 0, r.err
    d = json.loads(r.out)
    rng = d["range"]
    for key in ("step_time_s", "tokens_per_s_per_device", "mfu", "time_to_train_s", "cost_usd"):
        assert set(rng[key]) == {"low", "high"}
    assert rng["step_time_s"]["low"] < rng["step_time_s"]["high"]
    assert rng["basis"]["count"] == len(rng["basis"]["rows"]) >= 5
    ratio = rng["basis"]["ratio_high"]
    assert rng["step_time_s"]["high"] == pytest.approx(d["step_time_s"] * ratio)
    assert rng["tokens_per_s_per_device"]["low"] == pytest.approx(
        d["tokens_per_s_per_device"] / ratio
    )
    human = cli("estimate", "--params", "1.3B", "--accelerator", "h100-sxm5-80gb", "--count", "8")
    assert "range" in human.out and "cross-validated" in human.out


def test_recommend_options_carry_ranges(cli) -> None:
    r = cli("recommend", "--params", "125M", "--budget", "2000", "--top", "3", "--json")
    assert r.code == 0, r.err
    for o in json.loads(r.out)["options"]:
        assert o["range"]["cost_usd"]["low"] <= o["range"]["cost_usd"]["high"]
    human = cli("recommend", "--params", "125M", "--budget", "2000", "--top", "3")
    assert "10th-90th percentile" in human.out


def test_fitted_factor_scales_the_step(cli) -> None:
    import dataclasses

    from advisor.catalog import load_catalog
    from advisor.fitted import time_factor
    from advisor.model.device import device_model

    cat = load_catalog()
    acc = cat.accelerator("h100-sxm5-80gb")
    dev = device_model(cat, acc, cat.profile_for(acc.id), None, 8, None)
    assert dev.time_factor == pytest.approx(time_factor("h100-sxm5-80gb")[0]) != 1.0
    assert dataclasses.replace(dev, time_factor=1.0).time_factor == 1.0
    from advisor.model.device import _fitted_factor

    assert _fitted_factor(cat.accelerator("cpu"), None, "auto") == 1.0  # no runs on CPUs


def test_accuracy_cli_lists_cv_napkin_and_unchecked(cli) -> None:
    r = cli("accuracy", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["checks"] and d["not_checked"]
    assert {"steady_state", "whole_run", "by_source", "by_family", "by_stack"} <= set(d["summary"])
    assert sum(d["not_checked_reasons"].values()) == len(d["not_checked"])
    human = cli("accuracy")
    assert "napkin" in human.out and "not checked" in human.out and "Whole-run" in human.out


def test_report_range_is_the_measured_range(cli) -> None:
    # The report's answer uses the option's cross-validated range, not a x0.9..x1.1
    # efficiency re-score.
    r = cli("report", "--params", "125M", "--budget", "2000", "--format", "json", "--out", "-")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    top = d["options"][0]
    assert d["answer"]["cost_usd"]["low"] == pytest.approx(top["range"]["cost_usd"]["low"])
    assert d["answer"]["cost_usd"]["high"] == pytest.approx(top["range"]["cost_usd"]["high"])
    assert "cross-validated" in d["answer"]["range_basis"]


def test_report_accuracy_is_the_held_out_check(cli, cv) -> None:
    # The report showed the in-sample A100-fit checks ("fit" / "held out" per row); it
    # shows what `advisor accuracy` holds: every steady row predicted without its source.
    r = cli("report", "--params", "125M", "--budget", "2000", "--format", "json", "--out", "-")
    assert r.code == 0, r.err
    acc = json.loads(r.out)["accuracy"]
    steady_rows = [x for x in cv[2] if not x.whole_run]
    assert [c["id"] for c in acc["checks"]] == [x.id for x in steady_rows]
    assert acc["summary"]["all"]["median_abs_error"] == pytest.approx(
        summary(cv[2])["steady_state"]["cv"]["median_abs_error"]
    )
    assert "leave-one-source-out" in acc["note"]
