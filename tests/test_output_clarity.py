"""Small output defects from issue 9, item 11: each printed figure says what it is."""

from __future__ import annotations

import json
import re

import pytest

SHARDED = ["estimate", "--params", "1.3B", "--accelerator", "h100", "--count", "1024"]
SHARDED += ["--zero", "3"]
REPORT_FP8 = ["report", "--params", "1.3B", "--budget", "5000", "--precision", "fp8"]


def test_sharded_state_bytes_per_param_are_not_rounded_to_zero(cli) -> None:
    doc = json.loads(cli(*SHARDED, "--json").out)
    mem, params = doc["memory_per_device_bytes"], doc["params"]
    r = cli(*SHARDED)
    assert r.code == 0, r.err
    for part in ("weights", "gradients", "optimizer"):
        row = next(ln for ln in r.out.splitlines() if ln.strip().startswith(part))
        per = float(re.findall(r"[\d.e+-]+", row.split()[-1])[0])
        assert per > 0, row
        assert abs(per - mem[part] / params) <= 0.01 * mem[part] / params, row


def test_mfu_names_the_peak_it_divides_by(cli, tmp_path) -> None:
    args = ["estimate", "--params", "7B", "--accelerator", "h100", "--count", "8"]
    doc = json.loads(cli(*args, "--precision", "fp8", "--json").out)
    assert doc["mfu_peak_precision"] == "fp8"
    assert any("fp8 peak" in a for a in doc["assumptions"])
    text = cli(*args, "--precision", "fp8").out
    mfu_line = next(ln for ln in text.splitlines() if "MFU" in ln and "tokens/s" in ln)
    assert "fp8 peak" in mfu_line
    # fp32 matmuls run on TF32 tensor cores where the part has them: that peak is named.
    fp32 = json.loads(cli(*args, "--precision", "fp32", "--json").out)
    assert fp32["mfu_peak_precision"] == "tf32"
    md = tmp_path / "r.md"
    r = cli(*REPORT_FP8, "--format", "md", "--out", md)
    assert r.code == 0, r.err
    page = md.read_text()
    assert "MFU (fp8 peak)" in page and "(of the fp8 peak)" in page


def test_a_plan_that_does_not_fit_says_so_first_and_strict_exits_1(cli) -> None:
    args = ["estimate", "--params", "70B", "--accelerator", "h100", "--count", "1"]
    r = cli(*args)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("does NOT fit")
    r = cli(*args, "--strict")
    assert r.code == 1
    assert r.out.splitlines()[0].startswith("does NOT fit")
    assert len(r.err.strip().splitlines()) == 1 and "does not fit" in r.err
    r = cli(*args, "--strict", "--json")
    assert r.code == 1 and json.loads(r.out)["fits"] is False
    ok = cli("estimate", "--params", "1B", "--accelerator", "h100", "--count", "1", "--strict")
    assert ok.code == 0 and ok.err == "" and "NOT fit" not in ok.out


def test_memory_is_in_gib_in_the_cli_and_the_report(cli, tmp_path) -> None:
    q = ["--params", "1.3B", "--budget", "5000"]
    top = json.loads(cli("recommend", *q, "--json").out)["options"][0]
    total = top["memory_per_device_bytes"]["total"]
    assert f"{total / 2**30:.2f} GiB" in cli("recommend", *q).out
    md = tmp_path / "r.md"
    assert cli("report", *q, "--format", "md", "--out", md).code == 0
    page = md.read_text()
    assert f"{total / 2**30:.1f} GiB" in page
    memory_in_gb = re.findall(r".{40}\d GB\b(?!/s)", page)  # GB/s is bandwidth
    assert not memory_in_gb, memory_in_gb


def test_catalog_marks_every_price_it_calls_anomalous() -> None:
    from advisor.catalog import load_catalog

    cat = load_catalog()
    for o in cat.offerings.values():
        prices = (o.on_demand_usd_per_hour, o.spot_usd_per_hour, o.reserved_usd_per_hour)
        doubted = (o.notes or "").startswith(
            ("ANOMALOUS", "PARTIAL PRICE", "LOW-CONFIDENCE PRICE")
        ) or any(f is not None and "NOT an on-demand" in (f.note or "") for f in prices)
        assert bool(o.price_caveat) == doubted, o.id


def test_doubted_prices_carry_a_caveat_in_recommend_and_report(cli, tmp_path) -> None:
    from advisor.catalog import load_catalog
    from advisor.price_age import stale_price_caveat

    cat = load_catalog()
    q = ["--params", "1.3B", "--budget", "5000", "--providers", "gcp", "--top", "20"]
    options = json.loads(cli("recommend", *q, "--json").out)["options"]
    for o in options:
        offering = cat.offerings[o["offering"]]
        # the catalog's own doubt, then a price older than six months (advisor/price_age.py)
        said = [offering.price_caveat, stale_price_caveat(offering, "on-demand")]
        assert o["caveats"] == [c for c in said if c], o["offering"]
    doubted = [o for o in options if o["caveats"]]
    assert doubted, "the query should rank an offering the catalog doubts"
    text = cli("recommend", *q).out
    assert f"{doubted[0]['offering']}†" in text
    assert doubted[0]["caveats"][0] in " ".join(text.split())
    md = tmp_path / "r.md"
    assert cli("report", *q, "--format", "md", "--out", md).code == 0
    page = md.read_text()
    assert f"| {doubted[0]['offering']} † |" in page
    assert f"† {doubted[0]['offering']} (#{doubted[0]['rank']}" in page


def _published_prices():  # type: ignore[no-untyped-def]
    from advisor.catalog import iter_figures, load_catalog

    return [
        (o, path, f)
        for o in load_catalog().offerings.values()
        for path, f in iter_figures(o)
        if "price" in path or "usd" in path
        if f.published
    ]


def test_prices_keep_their_publication_date_beside_the_read_date(cli, tmp_path) -> None:
    dated = _published_prices()
    assert dated, "sourced publication dates of prices are in the catalog"
    # Capacity Block rates date from the 2024 page, though read on the catalog's as_of.
    for o, path, f in dated:
        assert f.published is not None and f.published[:4] <= str(f.as_of.year), (o.id, path)
    o, path, f = next(d for d in dated if d[0].kind == "cloud")
    shown = cli("catalog", "show", o.id).out
    line = next(ln for ln in shown.splitlines() if ln.strip().startswith(path))
    assert f"read {f.as_of}" in line and f"published {f.published}" in line
    md = tmp_path / "r.md"
    q = ["--params", "1.3B", "--budget", "50000", "--providers", "aws", "--top", "100"]
    rec = json.loads(cli("recommend", *q, "--json").out)
    assert o.id in {x["offering"] for x in rec["options"]}, "the query should use the offering"
    assert cli("report", *q, "--format", "md", "--out", md).code == 0
    page = md.read_text()
    assert "| read | published |" in page
    esc = path.replace("_", "\\_")
    assert f"| {esc} | {f.value:g} | " in page
    row = next(ln for ln in page.splitlines() if o.id in ln and esc in ln)
    assert row.rstrip().endswith(f"| {f.as_of} | {f.published} |"), row


def test_a_malformed_publication_date_is_named(tmp_path) -> None:
    from advisor.catalog import build_catalog
    from advisor.catalog.loader import shipped_files
    from advisor.errors import DataError

    p = tmp_path / "mine.yaml"
    p.write_text(
        "offerings:\n  - id: aws-p4d.24xlarge\n    on_demand_usd_per_hour: "
        "{value: 3, source: me, as_of: 2026-01-01, published: 'Dec 2024'}\n"
    )
    with pytest.raises(
        DataError, match=r"mine\.yaml: .*on_demand_usd_per_hour\.published: String should match"
    ):
        build_catalog(shipped_files(), [p])


def test_shipped_profiles_keep_every_efficiency_at_most_1() -> None:
    from advisor.catalog import iter_figures, load_catalog

    for p in load_catalog().profiles.values():
        for path, f in iter_figures(p):
            if "efficiency" in path:
                assert f.value <= 1.0, (p.id, path, f.value)
        curves = [*p.matmul.values(), *p.attention.values(), *p.attention_backward.values()]
        for c in [*curves, p.memory_bandwidth]:
            if c is not None:
                assert all(e <= 1.0 for _, e in c.points), p.id
