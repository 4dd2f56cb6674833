"""`advisor recommend` per the acceptance list, through the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from tests.conftest import assert_user_error


def _json(cli, *args):
    r = cli("recommend", *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_1_3b_with_5000_gives_five_options_within_budget(cli) -> None:
    d = _json(cli, "--params", "1.3B", "--budget", "5000")
    opts = d["options"]
    assert len(opts) >= 5
    assert all(o["cost_usd"] <= 5000 for o in opts)
    assert [o["rank"] for o in opts] == list(range(1, len(opts) + 1))
    # By cost, except that costs within the estimate's range of each other rank by time:
    # an option never ranks above one more than that tolerance cheaper.
    tol = d["query"]["tie_tolerance"]
    costs = [o["cost_usd"] for o in opts]
    assert all(a <= b * (1 + tol) for i, a in enumerate(costs) for b in costs[i:])
    for key in (
        "provider",
        "offering",
        "nodes",
        "price_per_hour_usd",
        "cost_usd",
        "step_time_s",
        "tokens_per_s",
        "mfu",
        "time_to_train_s",
        "memory_per_device_bytes",
        "plan",
        "breakdown_s",
    ):
        assert key in opts[0]
    # Default tokens: 20 per parameter (Chinchilla).
    assert d["query"]["tokens"] == pytest.approx(20 * d["query"]["params"])


def test_cost_is_price_times_nodes_times_billed_time(cli) -> None:
    d = _json(cli, "--params", "1.3B", "--budget", "5000", "--top", "3")
    for o in d["options"]:
        assert o["cost_usd"] == pytest.approx(o["price_per_hour_usd"] * o["billed_hours"])
        assert o["billed_hours"] >= o["wall_time_s"] / 3600 - 1e-9
        parts = sum(o["breakdown_s"].values())
        assert parts == pytest.approx(o["step_time_s"])


def test_human_table(cli) -> None:
    r = cli("recommend", "--params", "1.3B", "--budget", "5000")
    assert r.code == 0
    assert "options, by cost" in r.out and "plans/s" in r.out


def test_budget_too_small_explains_what_it_buys(cli) -> None:
    r = cli("recommend", "--params", "70B", "--budget", "100")
    assert r.code == 0
    assert "cannot train" in r.out and "compute-optimal model" in r.out
    d = _json(cli, "--params", "70B", "--budget", "100")
    s = d["shortfall"]
    assert d["options"] == [] and s["tokens_budget_buys"] > 0
    assert 0 < s["compute_optimal_params"] < 70e9


def test_objective_time_orders_by_time(cli) -> None:
    d = _json(cli, "--params", "1.3B", "--budget", "5000", "--objective", "time", "--top", "5")
    tol = d["query"]["tie_tolerance"]
    times = [o["wall_time_s"] for o in d["options"]]
    assert all(a <= b * (1 + tol) for i, a in enumerate(times) for b in times[i:])


def test_deadline_and_provider_filters(cli) -> None:
    d = _json(
        cli, "--params", "1.3B", "--budget", "5000", "--deadline", "12h", "--providers", "aws,gcp"
    )
    assert d["options"]
    assert all(o["wall_time_s"] <= 12 * 3600 for o in d["options"])
    assert {o["provider"] for o in d["options"]} <= {"AWS", "GCP"}


def test_accelerator_filter_and_spot(cli) -> None:
    d = _json(
        cli, "--params", "1.3B", "--budget", "5000", "--accelerators", "H100", "--pricing", "spot"
    )
    assert d["options"]
    assert {o["hardware"]["accelerator"] for o in d["options"]} == {"h100-sxm5-80gb"}


def test_onprem_is_opt_in(cli) -> None:
    plain = _json(cli, "--params", "1.3B", "--budget", "5000", "--top", "50")
    assert all(o["provider"] != "on-prem" for o in plain["options"])
    # Buying a node costs more than $5,000; hardware already owned costs its amortised share.
    with_onprem = _json(cli, "--params", "1.3B", "--budget", "5000", "--onprem", "--top", "50")
    assert all(o["provider"] != "on-prem" for o in with_onprem["options"])
    owned = _json(cli, "--params", "1.3B", "--budget", "5000", "--onprem", "--owned", "--top", "50")
    assert any(o["provider"] == "on-prem" for o in owned["options"])


def test_csv_output(cli) -> None:
    r = cli("recommend", "--params", "1.3B", "--budget", "5000", "--csv", "--top", "4")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == 4 and rows[0]["rank"] == "1"


def test_175b_large_search(cli) -> None:
    d = _json(cli, "--params", "175B", "--budget", "20M", "--max-devices", "4096", "--top", "3")
    assert d["options"] and d["plans_scored"] > 100_000


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--params", "1.3B", "--budget", "-5"], 2, "greater than zero"),
        (["--params", "1.3B", "--budget", "0"], 2, "greater than zero"),
        (["--params", "1.3B", "--budget", "lots"], 2, "cannot read"),
        (["--params", "1.3B", "--deadline", "-3h"], 2, "past"),
        (["--params", "1.3B", "--deadline", "2020-01-01"], 2, "in the past"),
        (["--params", "1.3B", "--deadline", "3 fortnights"], 2, "unknown unit"),
        (["--params", "1.3B", "--providers", "awz"], 2, "did you mean 'AWS'"),
        (["--params", "1.3B", "--accelerators", "h1000"], 2, "unknown accelerator"),
        (["--params", "1.3B", "--objective", "speed"], 2, "objective"),
        (["--params", "1.3B", "--pricing", "cheap"], 2, "pricing"),
        (["--params", "1.3B", "--max-devices", "0"], 2, "--max-devices"),
        (["--params", "10T", "--max-devices", "8"], 1, "nothing fits"),
        (["--budget", "5000"], 2, "name a model"),
    ],
)
def test_bad_input(cli, args, code, needle) -> None:
    assert_user_error(cli("recommend", *args), code, needle)


def test_tp_larger_than_a_node(cli) -> None:
    r = cli(
        "estimate",
        "--params",
        "13B",
        "--offering",
        "aws-p4d.24xlarge",
        "--nodes",
        "2",
        "--tp",
        "16",
    )
    assert_user_error(r, 2, "larger than a node")


def test_estimate_table5_175b_breakdown_adds_up(cli) -> None:
    r = cli(
        "estimate",
        "--model",
        "gpt3-175b",
        "--accelerator",
        "a100-sxm4-80gb",
        "--count",
        "64",
        "--tp",
        "8",
        "--pp",
        "8",
        "--vpp",
        "3",
        "--sp",
        "--recompute",
        "selective",
        "--micro-batch",
        "1",
        "--zero",
        "0",
        "--global-batch-tokens",
        "131072",
        "--json",
    )
    d = json.loads(r.out)
    assert set(d["breakdown_s"]) == {
        "compute",
        "memory_bound",
        "tp_comm",
        "pp_bubble",
        "pp_comm",
        "dp_comm_exposed",
        "optimizer",
        "cp_comm",
        "ep_comm",
    }
    assert sum(d["breakdown_s"].values()) == pytest.approx(d["step_time_s"])
    for key in (
        "tokens_per_s",
        "tokens_per_s_per_device",
        "achieved_tflops_per_device",
        "mfu",
        "hfu",
        "time_to_train_s",
        "device_hours",
    ):
        assert d[key] > 0


def test_estimate_with_offering_has_cost(cli) -> None:
    r = cli("estimate", "--params", "1.3B", "--offering", "aws-p4d.24xlarge", "--json")
    d = json.loads(r.out)
    assert d["cost_usd"] == pytest.approx(d["price_per_hour_usd"] * d["billed_hours"])
    assert d["billed_hours"] >= d["time_to_train_s"] / 3600
    assert d["energy_kwh"] > 0 and d["emissions_kg_co2e"] > 0


def test_recommend_never_imports_torch_or_matplotlib() -> None:
    code = (
        "import sys; from advisor.cli.app import run; "
        "run(['recommend','--params','1.3B','--budget','5000','--json']); "
        "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
