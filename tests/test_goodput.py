"""Whole-run time and cost (issue 12): goodput, checkpoints, restarts, spot."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from advisor.billing import billed_hours
from advisor.catalog import load_catalog
from advisor.errors import DataError
from advisor.goodput import (
    PARTS,
    GoodputSettings,
    conditions,
    daly_interval,
    whole_run,
)
from advisor.goodput_accuracy import anchor_goodput, anchors
from advisor.goodput_data import goodput_defaults, validate_defaults
from advisor.hardware import resolve_hardware
from tests.conftest import assert_user_error

DAY = 86400.0


def _json(cli, *args: str) -> dict:
    r = cli(*args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def _run(acc: str, devices: int, params: float, days: float, step_s: float = 10.0, **kw):
    hw = resolve_hardware(load_catalog(), acc, devices, None, None)
    c = conditions(GoodputSettings(**kw), hw, "on-demand", params)
    return c, whole_run(c, days * DAY, step_s)


# --- acceptance: estimate ------------------------------------------------------------------


def test_estimate_prints_goodput_checkpoint_and_wall_throughput(cli) -> None:
    args = ("estimate", "--model", "llama-2-70b", "--accelerator", "a100-sxm4-80gb")
    d = _json(cli, *args, "--count", "2048")
    g = d["goodput"]
    assert 0 < g["fraction"] < 1
    assert set(g["parts_s"]) == set(PARTS)
    assert d["wall_tokens_per_s_per_device"] < d["tokens_per_s_per_device"]
    assert d["wall_tokens_per_s_per_device"] == pytest.approx(
        d["tokens_per_s_per_device"] * g["fraction"]
    )
    ck = d["checkpoint"]
    assert ck["bytes"] == pytest.approx(d["params"] * 14)  # BLOOM's 14 B/param
    assert ck["write_s"] > 0 and ck["interval_s"] > 0
    assert d["expected_interruptions"]["total"] > 0
    # wall time = steady time + every part lost; the steady figure keeps its own key
    assert d["steady_time_to_train_s"] == pytest.approx(d["tokens"] / d["tokens_per_s"])
    assert d["time_to_train_s"] == pytest.approx(
        d["steady_time_to_train_s"] + sum(g["parts_s"].values())
    )
    assert d["device_hours"] == pytest.approx(d["time_to_train_s"] * 2048 / 3600)
    off = _json(cli, *args, "--count", "2048", "--goodput", "off")
    assert off["wall_tokens_per_s_per_device"] == off["tokens_per_s_per_device"]
    assert off["time_to_train_s"] == pytest.approx(off["steady_time_to_train_s"])
    assert off["tokens_per_s_per_device"] == pytest.approx(d["tokens_per_s_per_device"])
    assert off["goodput"]["fraction"] == 1.0 and not off["goodput"]["enabled"]


def test_cost_and_energy_are_wall_clock_with_spares_billed(cli) -> None:
    args = ("estimate", "--params", "7B", "--offering", "aws-p5.48xlarge", "--nodes", "32")
    d = _json(cli, *args)
    off = _json(cli, *args, "--goodput", "off")
    terms = load_catalog().terms_for(load_catalog().offering("aws-p5.48xlarge"))
    held = 32 + d["goodput"]["spare_nodes"]
    assert d["goodput"]["spare_nodes"] == 1  # 5% of 32 nodes, rounded down
    per_node = d["price_per_hour_usd"] / 32
    want = per_node * held * billed_hours(d["time_to_train_s"] / 3600, terms)
    assert d["cost_usd"] == pytest.approx(want)
    assert d["cost_usd"] > off["cost_usd"]
    ratio = d["time_to_train_s"] / off["time_to_train_s"]
    assert d["energy_kwh"] == pytest.approx(off["energy_kwh"] * ratio)


def test_checkpoint_interval_storage_and_async_flags(cli) -> None:
    base = ("estimate", "--params", "7B", "--accelerator", "h100", "--count", "64")
    d = _json(cli, *base)
    assert d["checkpoint"]["interval_s"] == pytest.approx(
        float(daly_interval(d["checkpoint"]["write_s"], d["goodput"]["job_mtbf_s"]))
    )
    fixed = _json(cli, *base, "--checkpoint-interval", "30m")
    assert fixed["checkpoint"]["interval_s"] == 1800
    fast = _json(cli, *base, "--checkpoint-storage", "nvme-gen5-samsung-pm1743")
    # 6.6 GB/s per node against the default 1.2 GB/s per node
    assert fast["checkpoint"]["write_s"] == pytest.approx(d["checkpoint"]["write_s"] * 1.2 / 6.6)
    assert fast["goodput"]["storage"] == "nvme-gen5-samsung-pm1743"
    asy = _json(cli, *base, "--async-checkpoint")
    assert asy["checkpoint"]["asynchronous"]
    assert asy["checkpoint"]["write_s"] == goodput_defaults().async_stage_s.value
    assert asy["goodput"]["parts_s"]["checkpoints"] < d["goodput"]["parts_s"]["checkpoints"]
    often = _json(cli, *base, "--node-mtbf", "2d")  # 100x the default failure rate
    assert often["goodput"]["fraction"] < d["goodput"]["fraction"]
    assert often["goodput"]["job_mtbf_s"] == pytest.approx(2 * DAY / 8)
    no_eval = _json(cli, *base, "--eval-fraction", "0")
    assert no_eval["goodput"]["parts_s"]["evaluation"] == 0
    assert d["goodput"]["parts_s"]["evaluation"] == pytest.approx(
        0.007 * d["steady_time_to_train_s"]
    )


def test_an_offering_names_its_checkpoint_storage(cli) -> None:
    d = _json(cli, "estimate", "--params", "7B", "--offering", "azure-nd96isr-h100-v5")
    assert d["goodput"]["storage"] == "azure-nd-h100-v5-local-nvme"
    mine = _json(
        cli, "estimate", "--params", "7B", "--offering", "azure-nd96isr-h100-v5",
        "--checkpoint-storage", "aws-ebs-gp3",
    )  # fmt: skip
    assert mine["goodput"]["storage"] == "aws-ebs-gp3"
    assert mine["checkpoint"]["write_s"] > d["checkpoint"]["write_s"]


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--node-mtbf", "-3d", "--node-mtbf"),
        ("--checkpoint-interval", "0", "--checkpoint-interval"),
        ("--checkpoint-storage", "aws-ebs-gp4", "did you mean 'aws-ebs-gp3'"),
        ("--goodput", "maybe", "--goodput"),
        ("--eval-fraction", "1.5", "--eval-fraction"),
        ("--spot-interruptions", "-1", "--spot-interruptions"),
    ],
)
def test_bad_goodput_input_is_one_clear_line(cli, flag: str, value: str, needle: str) -> None:
    r = cli("estimate", "--params", "1B", "--accelerator", "h100", "--count", "8", flag, value)
    assert_user_error(r, 2, needle)
    r = cli("recommend", "--params", "125M", "--budget", "500", flag, value)
    assert_user_error(r, 2, needle)


# --- acceptance: recommend with spot ------------------------------------------------------------


def test_spot_ranks_by_expected_wall_time_and_cost_and_says_what_it_assumed(cli) -> None:
    args = ("recommend", "--params", "7B", "--budget", "50k", "--pricing", "spot", "--top", "5")
    d = _json(cli, *args)
    notes = " ".join(d["notes"])
    assert "spot:" in notes and "interruptions per instance-hour" in notes
    assert "Spot Advisor" in notes  # the fallback's source
    assert "expected wall time and cost" in notes
    for o in d["options"]:
        g = o["goodput"]
        assert g["parts_s"]["preemptions"] > 0
        assert o["expected_interruptions"]["preemptions"] > 0
        assert o["time_to_train_s"] == pytest.approx(g["wall_s"])
    # a user rate 100x the fallback costs more wall time and money on the same option
    hot = _json(cli, *args, "--spot-interruptions", "0.031")
    assert "--spot-interruptions" in " ".join(hot["notes"])
    first = {(o["offering"], o["nodes"]): o for o in hot["options"]}
    both = [o for o in d["options"] if (o["offering"], o["nodes"]) in first]
    assert both
    for o in both:
        h = first[(o["offering"], o["nodes"])]
        assert h["goodput"]["fraction"] < o["goodput"]["fraction"]
        assert h["cost_usd"] > o["cost_usd"]


def test_recommend_table_shows_goodput_and_ranks_on_wall_time(cli) -> None:
    r = cli("recommend", "--params", "1.3B", "--budget", "5000", "--top", "3")
    assert r.code == 0, r.err
    assert "goodput" in r.out
    d = _json(cli, "recommend", "--params", "1.3B", "--budget", "5000", "--top", "3")
    for o in d["options"]:
        assert o["wall_time_s"] == pytest.approx(o["time_to_train_s"] + o["provisioning_s"])
        assert o["time_to_train_s"] > o["steady_time_to_train_s"]
    off = _json(cli, "recommend", "--params", "1.3B", "--budget", "5000", "--goodput", "off")
    assert all(o["goodput"]["fraction"] == 1.0 for o in off["options"])
    assert any("--goodput off" in n for n in off["notes"])


def test_a_deadline_is_checked_on_wall_time(cli) -> None:
    base = ("recommend", "--params", "1.3B", "--top", "1", "--objective", "time")
    fast = _json(cli, *base, "--budget", "5000")["options"][0]
    between = (fast["steady_time_to_train_s"] + fast["provisioning_s"] + fast["wall_time_s"]) / 2
    d = _json(cli, *base, "--budget", "5000", "--deadline", f"{between:.0f}")
    for o in d["options"]:
        assert o["wall_time_s"] <= between


def test_report_says_where_the_wall_time_goes(cli) -> None:
    r = cli("report", "--params", "125M", "--budget", "2000", "--format", "json", "--out", "-")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    rows = d["wall_time"]
    assert rows and set(rows[0]["parts_s"]) == set(PARTS)
    o = d["options"][0]
    assert rows[0]["wall_s"] == pytest.approx(o["time_to_train_s"])
    md = cli("report", "--params", "125M", "--budget", "2000", "--format", "md", "--out", "-")
    assert "## Where the wall time goes" in md.out


# --- targets and anchors -------------------------------------------------------------------------


def test_target_16k_gpus_54_days_default_goodput() -> None:
    _, g = _run("h100-sxm5-80gb", 16384, 405e9, 54)
    assert 0.85 <= float(g.fraction) <= 0.95


def test_target_8_gpus_one_day_default_goodput() -> None:
    _, g = _run("h100-sxm5-80gb", 8, 7e9, 1, step_s=1.0)
    assert float(g.fraction) > 0.97


@pytest.mark.parametrize("anchor", anchors(), ids=lambda a: a.id)
def test_published_goodput_anchors(anchor) -> None:
    """Each published figure (goodput_anchors.yaml, with its source) lands in its band."""
    assert anchor.measured.source and anchor.assumed and anchor.why_band
    lo, hi = anchor.band
    assert lo <= anchor_goodput(anchor) <= hi


def test_kokolis_rsc1_check() -> None:
    """Kokolis et al. 2024 (reference notes §1.2, §7.3 check 1): 2,000 RSC-1 nodes at
    6.5 failures per 1000 node-days, 5-min restart, free checkpoints: ETTR ~0.68 at an
    hourly interval, ~0.93 at 5 minutes."""
    c, _ = _run("a100-sxm4-80gb", 16000, 1e9, 10)
    c = dataclasses.replace(
        c,
        failures_per_s=2000 * 6.5e-3 / DAY,
        planned_per_s=0.0,
        restart_s=300.0,
        checkpoint_bytes=0.0,
        eval_fraction=0.0,
        straggler=1.0,
    )
    hourly = whole_run(dataclasses.replace(c, interval_s=3600.0), DAY, 1.0)
    assert float(hourly.fraction) == pytest.approx(0.68, abs=0.01)
    five = whole_run(dataclasses.replace(c, interval_s=300.0), DAY, 1.0)
    assert float(five.fraction) == pytest.approx(0.93, abs=0.01)


def test_bloom_checkpoint_write_time() -> None:
    """BLOOM-176B on 384 A100 (48 nodes): 2.3 TB written in ~40 s (ml-engineering)."""
    _, g = _run("a100-sxm4-80gb", 384, 176e9, 100)
    assert float(g.write_s) == pytest.approx(40, rel=0.1)
    assert g.checkpoint_bytes == pytest.approx(2.46e12, rel=0.01)


def test_huge_scale_is_flagged() -> None:
    """131k GPUs at 6.5/1000 node-days, 10-min restart: L/M > 0.3 (reference §7.3 check 4)."""
    _, g = _run("h100-sxm5-80gb", 131072, 405e9, 30, node_mtbf_s=DAY / 6.5e-3)
    assert bool(g.flagged)


def test_goodput_is_evaluated_on_plan_arrays() -> None:
    c, _ = _run("h100-sxm5-80gb", 1024, 70e9, 1)
    steady = np.array([DAY, 10 * DAY, 30 * DAY])
    step = np.array([1.0, 5.0, 20.0])
    g = whole_run(c, steady, step)
    for k in range(3):
        one = whole_run(c, float(steady[k]), float(step[k]))
        assert float(g.fraction[k]) == pytest.approx(float(one.fraction))
        for p in PARTS:
            assert float(g.parts[p][k]) == pytest.approx(float(one.parts[p]))


def test_young_daly_interval() -> None:
    """Daly 2006 first order: sqrt(2 delta M) - delta; with delta = 5 min, M = 24 h: 115 min."""
    assert float(daly_interval(300.0, DAY)) / 60 == pytest.approx(115, abs=1)
    assert float(daly_interval(300.0, 6 * 3600.0)) / 60 == pytest.approx(55, abs=1)
    assert float(daly_interval(400.0, 600.0)) == 600.0  # delta >= M/2: M


# --- data -------------------------------------------------------------------------------------


def test_every_default_is_sourced_and_dated() -> None:
    for name, fig in goodput_defaults().figures().items():
        assert fig.source and fig.as_of, name
        if fig.source == "assumption":
            assert fig.note, name
    rate = goodput_defaults().spot_interruptions_per_hour.value
    assert rate == pytest.approx(-math.log(1 - 0.2) / 730, rel=0.02)  # the >20%/month bucket


def test_a_malformed_defaults_file_names_the_field(tmp_path) -> None:
    import yaml

    from advisor.goodput_data import DEFAULTS_FILE

    raw = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    raw["restart_s"]["value"] = -5
    with pytest.raises(DataError, match=r"goodput_defaults.yaml: restart_s.value"):
        validate_defaults(raw)


def test_accuracy_checks_whole_runs_on_wall_throughput(cli) -> None:
    d = _json(cli, "accuracy")
    w = d["whole_run_wall"]
    rows = {r["id"]: r for r in w["checks"]}
    bloom = rows["bloom-176B"]
    # measured wall throughput = tokens / device-hours (BLOOM: 366e9 / 1,082,990 h)
    assert bloom["measured"] == pytest.approx(366e9 / (1_082_990 * 3600))
    assert bloom["predicted"] == pytest.approx(bloom["steady_predicted"] * bloom["goodput"])
    assert "napkin_error" in bloom
    assert w["summary"]["cv"]["n"] == len(rows)
    assert "opt-175B" in w["not_checked"]
    assert {a["id"] for a in w["anchors"]} >= {"llama3-405b-16k", "opt-175b"}
