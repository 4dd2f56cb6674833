"""The 2026 catalog: current parts and offerings with sources and dates, price age, TPU slices."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from advisor.catalog import load_catalog
from advisor.price_age import STALE_AFTER_DAYS, price_date, stale_price_caveat

# Parts of hardware-2026.md Table 1 (B300, GB300, H20, RTX PRO 6000, RTX 5090, Rubin, MI350X,
# MI355X, MI455X, TPU7x, TPU v6e, Trainium2/3, Gaudi 3), by the alias a user would type.
PARTS = {
    "B300": "b300-sxm-288gb",
    "GB300": "gb300",
    "H20": "h20-96gb",
    "Rubin": "rubin",
    "MI350X": "mi350x",
    "MI355X": "mi355x",
    "MI455X": "mi455x",
    "TPU7x": "tpu-v7",
    "Ironwood": "tpu-v7",
    "Trillium": "tpu-v6e",
    "Trn2": "trainium2",
    "Trn3": "trainium3",
    "Gaudi3": "gaudi3",
}

# Offerings of offerings-2026.csv with an accelerator count (rows 1-22, 25-46, 48-63).
OFFERINGS = {
    "aws-p5.48xlarge": "h100-sxm5-80gb",
    "aws-p6-b300.48xlarge": "b300-sxm-288gb",
    "aws-p6e-gb200.36xlarge": "gb200",
    "aws-trn2u-ultraserver": "trainium2",
    "aws-trn3-gen1-ultraserver": "trainium3",
    "aws-trn3-gen2-ultraserver": "trainium3",
    "gcp-a3-highgpu-1g": "h100-sxm5-80gb",
    "gcp-a3-ultragpu-8g": "h200-sxm-141gb",
    "gcp-tpu-v6e-256": "tpu-v6e",
    "gcp-tpu7x-4": "tpu-v7",
    "azure-nd96isr-h200-v5": "h200-sxm-141gb",
    "azure-nd128isr-ndr-gb200-v6": "gb200",
    "lambda-gpu-1x-gh200": "gh200-96gb",
    "coreweave-gb200-nvl72-4x": "gb200",
    "coreweave-8x-b300": "b300-sxm-288gb",
    "nebius-8x-b300": "b300-sxm-288gb",
    "nebius-8x-h100": "h100-sxm5-80gb",
    "crusoe-1x-mi300x": "mi300x",
    "together-1x-h200": "h200-sxm-141gb",
    "runpod-1x-b300-secure": "b300-sxm-288gb",
    "hyperstack-1x-b200": "b200-sxm-180gb",
    "vast-1x-h100-sxm": "h100-sxm5-80gb",
    "modal-1x-b200": "b200-sxm-180gb",
}


@pytest.mark.parametrize(("alias", "part"), PARTS.items())
def test_current_parts_resolve_with_sourced_dated_figures(alias: str, part: str) -> None:
    cat = load_catalog()
    acc = cat.accelerator(alias)
    assert acc.id == part
    assert acc.memory_gb is not None and acc.peak_tflops.get("bf16") is not None
    for fig in [acc.memory_gb, *acc.peak_tflops.values()]:
        assert fig.source in cat.sources and fig.as_of.year >= 2026


@pytest.mark.parametrize(("offering", "part"), OFFERINGS.items())
def test_2026_offerings_are_in_the_catalog(offering: str, part: str) -> None:
    cat = load_catalog()
    o = cat.offering(offering)
    assert o.accelerator == part
    for fig in (o.on_demand_usd_per_hour, o.spot_usd_per_hour, o.reserved_usd_per_hour):
        if fig is not None:
            assert fig.source in cat.sources and fig.as_of.year >= 2026


def test_catalog_list_shows_the_price_date(cli) -> None:
    r = cli("catalog", "list", "offerings")
    assert r.code == 0, r.err
    assert "price date" in r.out
    b300 = load_catalog().offering("aws-p6-b300.48xlarge").on_demand_usd_per_hour
    assert b300 is not None and b300.published in r.out
    line = next(ln for ln in r.out.splitlines() if "aws-p6-b300.48xlarge" in ln)
    assert b300.published in line


def test_price_date_reads_partial_dates_as_their_last_day() -> None:
    fig = load_catalog().offering("gcp-tpu-v6e-8").on_demand_usd_per_hour
    assert fig is not None and fig.published == "2024-12"
    assert price_date(fig) == (dt.date(2024, 12, 31), True)


def _priced(tmp_path: Path, days_old: int) -> Path:
    """A user catalog: one offering whose price was published `days_old` days ago."""
    when = dt.date.today() - dt.timedelta(days=days_old)
    p = tmp_path / f"old-{days_old}.yaml"
    p.write_text(
        "offerings:\n"
        "  - id: test-8x-h100\n"
        "    provider: TestCloud\n"
        "    name: test\n"
        "    accelerator: h100-sxm5-80gb\n"
        "    accelerator_count: 8\n"
        "    on_demand_usd_per_hour: {value: 20.0, source: 'a quote', "
        f"as_of: {dt.date.today()}, published: '{when}'}}\n"
    )
    return p


@pytest.mark.parametrize(("days", "stale"), [(STALE_AFTER_DAYS + 30, True), (30, False)])
def test_recommend_says_when_a_price_is_more_than_six_months_old(
    cli, tmp_path: Path, days: int, stale: bool
) -> None:
    path = _priced(tmp_path, days)
    args = ["--params", "1.3B", "--budget", "5000", "--providers", "testcloud", "--catalog", path]
    r = cli("recommend", *args, "--json")
    assert r.code == 0, r.err
    options = json.loads(r.out)["options"]
    assert options
    said = [c for o in options for c in o["caveats"] if "months old" in c]
    assert bool(said) == stale
    r = cli("recommend", *args)
    assert ("months old" in r.out) == stale
    r = cli("report", *args, "--format", "md", "--out", "-")
    assert r.code == 0, r.err
    assert ("months old" in r.out) == stale


def test_stale_caveat_uses_the_read_date_when_the_source_gives_none() -> None:
    o = load_catalog().offering("aws-p5.4xlarge")
    fig = o.on_demand_usd_per_hour
    assert fig is not None and fig.published is None
    later = fig.as_of + dt.timedelta(days=STALE_AFTER_DAYS + 1)
    said = stale_price_caveat(o, "on-demand", today=later)
    assert said is not None and f"undated, read {fig.as_of}" in said
    assert stale_price_caveat(o, "on-demand", today=fig.as_of) is None


def test_a_tpu_slice_offering_is_one_ici_domain_and_slices_cross_dcn(cli) -> None:
    cat = load_catalog()
    o = cat.offering("gcp-tpu-v6e-256")
    acc = cat.accelerator(o.accelerator)
    assert acc.scale_up_devices is not None and o.accelerator_count <= acc.scale_up_devices.value
    r = cli("estimate", "--model", "llama-3.1-70b", "--offering", "gcp-tpu-v6e-256",
            "--nodes", "2", "--json")  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["hardware"]["devices_per_node"] == 256 and d["hardware"]["nodes"] == 2
    assert d["cost_usd"] > 0


def test_an_old_purchase_price_is_called_a_purchase_price() -> None:
    cat = load_catalog()
    o = next(o for o in cat.offerings.values() if o.kind == "onprem")
    assert o.onprem is not None
    when = o.onprem.purchase_price_usd.as_of + dt.timedelta(days=10 * STALE_AFTER_DAYS)
    said = stale_price_caveat(o, "on-demand", today=when)
    assert said is not None and said.startswith("purchase price is")
