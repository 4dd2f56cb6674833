"""`advisor catalog import-skypilot`: a SkyPilot vms.csv becomes a price override that
`--catalog` then uses; bad files fail with one line and write nothing."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import assert_user_error

DATA = Path(__file__).parent / "data" / "skypilot" / "aws" / "vms.csv"


@pytest.fixture
def vms(tmp_path: Path) -> Path:
    """The test CSV in a folder named after its cloud, with a known modification date."""
    folder = tmp_path / "aws"
    folder.mkdir()
    path = folder / "vms.csv"
    shutil.copy(DATA, path)
    stamp = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _offerings(path: Path) -> dict[str, dict]:
    return {o["id"]: o for o in yaml.safe_load(path.read_text())["offerings"]}


def test_import_reprices_known_offerings_and_dates_them_by_file(cli, vms, tmp_path):
    out = tmp_path / "prices.yaml"
    r = cli("catalog", "import-skypilot", vms, "--out", out)
    assert r.code == 0, r.err
    assert "as_of 2026-11-30 (the modification date of vms.csv)" in r.out
    got = _offerings(out)
    # p4d: one on-demand price in us-east-1 (the catalog's region), spot = the zones' minimum.
    east = [row for row in _csv_rows(vms) if row["InstanceType"] == "p4d.24xlarge"]
    east = [row for row in east if row["Region"] == "us-east-1"]
    p4d = got["aws-p4d.24xlarge"]
    assert p4d["on_demand_usd_per_hour"]["value"] == min(float(x["Price"]) for x in east)
    assert p4d["spot_usd_per_hour"]["value"] == min(float(x["SpotPrice"]) for x in east)
    assert p4d["on_demand_usd_per_hour"]["as_of"] == dt.date(2026, 11, 30)
    assert set(p4d) == {"id", "region", "on_demand_usd_per_hour", "spot_usd_per_hour"}
    # An empty SpotPrice is no spot offering: the override clears the shipped spot price.
    assert got["aws-p5.48xlarge"]["spot_usd_per_hour"] is None
    # A new instance type becomes a whole offering, its part matched by alias and memory.
    new = got["aws-x9test.8xlarge"]
    assert new["accelerator"] == "h100-sxm5-80gb" and new["accelerator_count"] == 1
    doc = yaml.safe_load(out.read_text())
    assert doc["sources"][0]["key"] == p4d["on_demand_usd_per_hour"]["source"]
    assert cli("catalog", "validate", out).code == 0


def test_as_of_option_wins_over_the_file_date(cli, vms, tmp_path):
    out = tmp_path / "prices.yaml"
    r = cli("catalog", "import-skypilot", vms, "--out", out, "--as-of", "2026-12-05")
    assert r.code == 0, r.err
    assert "as_of 2026-12-05 (--as-of)" in r.out
    assert _offerings(out)["aws-g5.xlarge"]["on_demand_usd_per_hour"]["as_of"] == dt.date(
        2026, 12, 5
    )


def test_unknown_accelerator_is_reported_with_nearest_not_guessed(cli, vms, tmp_path):
    out = tmp_path / "prices.yaml"
    r = cli("catalog", "import-skypilot", vms, "--out", out)
    assert "unknown accelerator 'Radeon Pro V520' left out" in r.err
    assert "nearest:" in r.err
    assert not any(o.startswith("aws-g4ad") for o in _offerings(out))


def test_memory_that_disagrees_with_the_alias_is_not_guessed(cli, vms, tmp_path):
    # SkyPilot's 'A100' with 40 GiB per GpuInfo: the catalog's alias 'A100' is the 80 GB part.
    text = vms.read_text().replace("p4d.24xlarge", "p4x.24xlarge")
    vms.write_text(text)
    out = tmp_path / "prices.yaml"
    r = cli("catalog", "import-skypilot", vms, "--out", out)
    assert r.code == 0, r.err
    assert "unknown accelerator 'A100'" in r.err and "--map A100=ID" in r.err
    assert "aws-p4x.24xlarge" not in _offerings(out)
    r = cli("catalog", "import-skypilot", vms, "--out", out, "--map", "A100=a100-sxm4-40gb")
    assert r.code == 0, r.err
    assert _offerings(out)["aws-p4x.24xlarge"]["accelerator"] == "a100-sxm4-40gb"


def test_recommend_uses_the_imported_prices(cli, vms, tmp_path):
    out = tmp_path / "prices.yaml"
    assert cli("catalog", "import-skypilot", vms, "--out", out).code == 0
    imported = _offerings(out)["aws-p4d.24xlarge"]["on_demand_usd_per_hour"]["value"]
    args = ("recommend", "--params", "1.3B", "--budget", "5000", "--providers", "aws")
    args += ("--accelerators", "a100-sxm4-40gb", "--json")
    before = json.loads(cli(*args).out)["options"]
    after = json.loads(cli(*args, "--catalog", out).out)["options"]

    def per_node(options: list[dict]) -> set[float]:
        return {
            round(o["price_per_hour_usd"] / o["nodes"], 6)
            for o in options
            if o["offering"] == "aws-p4d.24xlarge"
        }

    p4d_before, p4d_after = per_node(before), per_node(after)
    assert p4d_after == {imported}
    assert p4d_before and p4d_before != p4d_after


def test_missing_column_is_one_line_and_writes_nothing(cli, vms, tmp_path):
    rows = vms.read_text().splitlines()
    head = rows[0].split(",")
    at = head.index("Price")
    vms.write_text(
        "\n".join(
            ",".join(c for i, c in enumerate(next(csv.reader([ln]))) if i != at) for ln in rows
        )
        + "\n"
    )
    out = tmp_path / "prices.yaml"
    r = cli("catalog", "import-skypilot", vms, "--out", out)
    assert_user_error(r, 1, "missing column 'Price'")
    assert list(tmp_path.iterdir()) == [vms.parent]


def test_price_not_a_number_is_one_line_and_keeps_the_old_file(cli, vms, tmp_path):
    vms.write_text(vms.read_text().replace(",30.0,", ",thirty,"))
    out = tmp_path / "prices.yaml"
    out.write_text("# the previous import\n")
    r = cli("catalog", "import-skypilot", vms, "--out", out)
    assert_user_error(r, 1, "Price 'thirty' is not a number", "vms.csv:")
    assert out.read_text() == "# the previous import\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aws", "prices.yaml"]


def test_malformed_gpuinfo_and_bad_usage(cli, vms, tmp_path):
    vms.write_text(vms.read_text().replace("{'Gpus'", "__import__('os')#{'Gpus'", 1))
    r = cli("catalog", "import-skypilot", vms, "--out", tmp_path / "p.yaml")
    assert_user_error(r, 1, "GpuInfo")
    r = cli("catalog", "import-skypilot", vms, "--out", tmp_path / "p.yaml", "--as-of", "soon")
    assert_user_error(r, 2, "--as-of 'soon'")
    other = tmp_path / "somewhere"
    other.mkdir()
    shutil.copy(DATA, other / "vms.csv")
    r = cli("catalog", "import-skypilot", other / "vms.csv", "--out", tmp_path / "p.yaml")
    assert_user_error(r, 2, "--cloud")
    r = cli("catalog", "import-skypilot", vms, "--out", tmp_path / "missing" / "p.yaml")
    assert_user_error(r, 2, "does not exist")


def test_columns_are_read_by_name_in_lambda_order(cli, tmp_path):
    folder = tmp_path / "lambda"
    folder.mkdir()
    vms = folder / "vms.csv"
    shutil.copy(DATA.parent.parent / "lambda" / "vms.csv", vms)
    out = tmp_path / "prices.yaml"
    r = cli("catalog", "import-skypilot", vms, "--out", out, "--as-of", "2026-12-01")
    assert r.code == 0, r.err
    (entry,) = _offerings(out).values()
    row = _csv_rows(vms)[0]
    assert entry["id"] == "lambda-gpu-8x-v100"  # the shipped offering, re-priced
    assert entry["on_demand_usd_per_hour"]["value"] == float(row["Price"])
    assert entry["spot_usd_per_hour"] is None  # Lambda has no spot offering
