"""Rentals are sold in steps (issue 9, item 4), recommendations have a horizon and do not
rank by cents (item 5), and on-premises hardware costs its purchase (item 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advisor.billing import billed_hours, node_limit, wall_hours
from advisor.catalog import load_catalog
from advisor.ownership import break_even_hours
from advisor.ranking import DEFAULT_MAX_DAYS, rank_order

DAY = 24.0


def _json(cli, *args):
    r = cli(*args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog([])


# --- item 4: billing terms, provisioning, node limits ------------------------------------


def test_capacity_block_billed_in_days_then_weeks(catalog) -> None:
    cb = catalog.terms["aws-capacity-block"]
    prov = cb.provisioning_minutes.value / 60
    tail = cb.unusable_tail_hours.value
    assert billed_hours(0.4, cb) == 1 * DAY  # 25 minutes still buys a day
    assert billed_hours(DAY - prov - tail, cb) == 1 * DAY
    assert billed_hours(DAY, cb) == 2 * DAY  # a day's run needs a second day for set-up
    assert billed_hours(13.5 * DAY, cb) == 14 * DAY
    assert billed_hours(20 * DAY, cb) == 21 * DAY  # 7-day steps after 14 days
    assert billed_hours(26.1 * DAY, cb) == 28 * DAY


def test_default_terms_are_fine_grained_and_marked_as_assumptions(catalog) -> None:
    d = catalog.terms["default"]
    run = 2.0
    assert wall_hours(run, d) == pytest.approx(run + d.provisioning_minutes.value / 60)
    assert billed_hours(run, d) == pytest.approx(wall_hours(run, d), abs=1 / 3600)
    assert billed_hours(1e-6, d) == pytest.approx(d.provisioning_minutes.value / 60, abs=1e-3)
    instant = d.model_copy(
        update={"provisioning_minutes": d.minimum_hours.model_copy(update={"value": 0.0})}
    )
    assert billed_hours(1e-6, instant) == pytest.approx(d.minimum_hours.value)
    for fig in (d.minimum_hours, d.increment_hours, d.provisioning_minutes, d.max_nodes):
        assert fig is not None and "ASSUMPTION" in (fig.note or "")
    assert billed_hours(5.0, None) == 5.0  # owned hardware: the run itself


def test_every_cloud_offering_has_terms_and_capacity_blocks_sell_days(catalog) -> None:
    for o in catalog.offerings.values():
        t = catalog.terms_for(o)
        if o.kind == "onprem":
            assert t is None
            continue
        assert t is not None, o.id
        if o.id.endswith("-capacity-block"):
            assert t.id == "aws-capacity-block"
            assert t.minimum_hours.value == DAY
            assert node_limit(t, o.max_nodes) == 64


def test_estimate_on_a_capacity_block_pays_for_whole_days(cli, catalog) -> None:
    off = catalog.offering("aws-p4d.24xlarge-capacity-block")
    d = _json(cli, "estimate", "--params", "1.3B", "--offering", off.id, "--nodes", "64")
    assert d["time_to_train_s"] < DAY * 3600 / 4  # the run is a few hours ...
    assert d["billed_hours"] == DAY  # ... but the block is sold by the day
    held = 64 + d["goodput"]["spare_nodes"]  # spare nodes are billed with the job
    assert d["cost_usd"] == pytest.approx(off.on_demand_usd_per_hour.value * held * DAY)
    assert d["wall_time_s"] > d["time_to_train_s"]
    assert any("billed" in a for a in d["assumptions"])


def test_one_hour_deadline_respects_billing_and_node_limits(cli, catalog) -> None:
    d = _json(cli, "recommend", "--params", "1.3B", "--budget", "50k", "--deadline", "1h")
    assert d["options"]
    for o in d["options"]:
        off = catalog.offering(o["offering"])
        terms = catalog.terms_for(off)
        assert o["nodes"] <= node_limit(terms, off.max_nodes)
        assert o["wall_time_s"] == pytest.approx(o["time_to_train_s"] + o["provisioning_s"])
        assert o["wall_time_s"] <= 3600
        assert o["billed_hours"] == pytest.approx(billed_hours(o["time_to_train_s"] / 3600, terms))
        held = (o["nodes"] + o["goodput"]["spare_nodes"]) / o["nodes"]  # spares are billed
        assert o["cost_usd"] == pytest.approx(o["price_per_hour_usd"] * o["billed_hours"] * held)
        assert o["terms"] == terms.id


def test_table_shows_billed_time(cli) -> None:
    r = cli("recommend", "--params", "1.3B", "--budget", "50k", "--deadline", "1h")
    assert r.code == 0 and "billed" in r.out


# --- item 5: horizon and ties ------------------------------------------------------------


def test_rank_order_bands_costs_within_the_tolerance() -> None:
    cost = np.array([100.0, 100.01, 150.0, 104.0, 115.0, 116.0])
    time = np.array([50.0, 10.0, 1.0, 20.0, 5.0, 30.0])
    # Band 1 from 100: 100, 100.01, 104 (<= 110) by time; band 2 from 115: 115, 116 (<= 126.5);
    # band 3: 150.
    assert rank_order(cost, time, 0.10).tolist() == [1, 3, 0, 4, 5, 2]
    assert rank_order(cost, time, 0.0).tolist() == [0, 1, 3, 4, 5, 2]
    assert rank_order(np.array([]), np.array([]), 0.1).tolist() == []
    with pytest.raises(ValueError):
        rank_order(cost, time[:2], 0.1)


def test_70b_default_horizon_removes_slow_options_and_says_so(cli) -> None:
    d = _json(cli, "recommend", "--params", "70B", "--budget", "2M")
    assert d["query"]["max_days"] == DEFAULT_MAX_DAYS
    assert d["options"] and d["removed_by_max_days"] > 0
    assert all(o["wall_time_s"] <= DEFAULT_MAX_DAYS * 86400 for o in d["options"])
    r = cli("recommend", "--params", "70B", "--budget", "2M")
    assert "--max-days" in r.out and f"{DEFAULT_MAX_DAYS:g} days" in r.out


def test_max_days_and_deadline_set_the_horizon(cli) -> None:
    d = _json(cli, "recommend", "--params", "70B", "--budget", "2M", "--max-days", "60")
    assert d["query"]["max_days"] == 60
    assert d["options"] and all(o["wall_time_s"] <= 60 * 86400 for o in d["options"])
    # A deadline longer than the default horizon is the user's own horizon.
    d = _json(cli, "recommend", "--params", "70B", "--budget", "2M", "--deadline", "400d")
    assert d["query"].get("max_days") is None and d["removed_by_max_days"] == 0
    assert max(o["wall_time_s"] for o in d["options"]) > DEFAULT_MAX_DAYS * 86400
    r = cli("recommend", "--params", "70B", "--budget", "2M", "--max-days", "1")
    assert r.code == 0 and "--max-days" in r.out


def test_spot_7b_ranks_more_nodes_first_when_costs_tie(cli) -> None:
    d = _json(
        cli,
        "recommend",
        "--params",
        "7B",
        "--budget",
        "50k",
        "--pricing",
        "spot",
        "--providers",
        "aws",
    )
    p4d = {o["nodes"]: o for o in d["options"] if o["offering"] == "aws-p4d.24xlarge"}
    few, many = p4d[1], p4d[4]  # 8 and 32 GPUs
    assert many["rank"] < few["rank"]
    assert abs(few["cost_usd"] / many["cost_usd"] - 1) < d["query"]["tie_tolerance"]


# --- item 6: on-premises cost ------------------------------------------------------------


def test_break_even_hours() -> None:
    assert break_even_hours(1000.0, 1.0, 11.0) == pytest.approx(100.0)
    assert break_even_hours(1000.0, 5.0, 5.0) is None


def test_onprem_costs_the_purchase_compared_with_the_budget(cli, catalog) -> None:
    args = ("recommend", "--params", "7B", "--budget", "5M", "--providers", "on-prem")
    d = _json(cli, *args, "--deadline", "7d")
    assert d["options"]
    for o in d["options"]:
        off = catalog.offering(o["offering"])
        buy = off.onprem.purchase_price_usd.value * o["nodes"]
        assert o["purchase_usd"] == pytest.approx(buy)
        assert buy <= o["cost_usd"] <= 5e6
        assert o["owned"] is False and 0 < o["amortised_usd"] < o["purchase_usd"]
        assert 0 < o["utilization"] <= 1
        assert o["comparable_offering"] and o["break_even_days"] > 0
        assert any("utilisation" in a for a in o["assumptions"])
    small = _json(cli, "recommend", "--params", "7B", "--budget", "1M", "--providers", "on-prem")
    assert all(o["purchase_usd"] <= o["cost_usd"] <= 1e6 for o in small["options"])


def test_owned_onprem_costs_amortisation_and_energy(cli) -> None:
    args = ("recommend", "--params", "7B", "--budget", "5M", "--providers", "on-prem", "--owned")
    d = _json(cli, *args, "--deadline", "7d")
    assert d["query"]["owned"] is True
    for o in d["options"]:
        assert o["owned"] is True
        assert o["cost_usd"] == pytest.approx(o["amortised_usd"])
        assert o["purchase_usd"] > o["cost_usd"]
    r = cli(*args, "--deadline", "7d")
    assert "purchase" in r.out and "break-even" in r.out and "utilisation" in r.out
