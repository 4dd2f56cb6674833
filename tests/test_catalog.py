"""The shipped catalog and user overrides, through the public API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.catalog import build_catalog, iter_figures, load_catalog
from advisor.catalog.loader import shipped_files
from advisor.errors import DataError, UsageError
from tests.conftest import assert_user_error

DESIGN_IDS = [
    "v100-sxm2-16gb",
    "v100-sxm2-32gb",
    "t4",
    "a10g",
    "l4",
    "l40s",
    "a100-pcie-40gb",
    "a100-sxm4-40gb",
    "a100-pcie-80gb",
    "a100-sxm4-80gb",
    "h100-pcie-80gb",
    "h100-sxm5-80gb",
    "h800-sxm5-80gb",
    "h200-sxm-141gb",
    "b200-sxm-180gb",
    "rtx-4090",
    "mi250x",
    "mi300x",
    "tpu-v4",
    "tpu-v5e",
    "tpu-v5p",
    "tpu-v6e",
    "gaudi2",
    "gaudi3",
    "trainium2",
    "cpu",
]


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_design_accelerator_ids_exist(cat) -> None:
    missing = [i for i in DESIGN_IDS if i not in cat.accelerators]
    assert not missing
    assert len(cat.accelerators) >= 25


def test_every_figure_cites_a_known_source(cat) -> None:
    n = 0
    for kind in ("accelerators", "cpus", "networks", "storage", "offerings", "profiles"):
        for entry in cat.table(kind).values():
            for path, fig in iter_figures(entry):
                assert fig.source in cat.sources, (kind, entry.id, path, fig.source)
                n += 1
    assert n > 500


def test_h100_dense_bf16_is_989_with_source(cat) -> None:
    h100 = cat.accelerator("H100")
    assert h100.id == "h100-sxm5-80gb"
    fig = h100.peak_tflops["bf16"]
    assert fig.value == 989
    assert "ml-engineering" in cat.source_of(fig)


def test_aliases_are_case_insensitive_and_typos_suggest(cat) -> None:
    assert cat.accelerator("a100-80gb").id == "a100-sxm4-80gb"
    assert cat.accelerator("H100-SXM").id == "h100-sxm5-80gb"
    with pytest.raises(UsageError, match="did you mean"):
        cat.accelerator("h100-sxm6-80gb")


def test_offerings_cover_five_clouds_and_onprem(cat) -> None:
    cloud = [o for o in cat.offerings.values() if o.kind == "cloud"]
    assert len(cloud) >= 40
    assert {"AWS", "GCP", "Azure", "Lambda", "RunPod"} <= {o.provider for o in cloud}
    onprem = [o for o in cat.offerings.values() if o.kind == "onprem"]
    assert onprem
    for o in onprem:
        # Amortised purchase + energy x PUE: positive and below the purchase price per day.
        hourly = o.price_per_hour()
        assert 0 < hourly < o.onprem.purchase_price_usd.value / 24


def test_onprem_hourly_cost_formula(cat) -> None:
    o = next(o for o in cat.offerings.values() if o.kind == "onprem")
    c = o.onprem
    hours = c.amortization_years.value * 365.25 * 24
    energy = c.power_kw.value * c.pue.value * c.electricity_usd_per_kwh.value
    assert o.price_per_hour() == pytest.approx(c.purchase_price_usd.value / hours + energy)


def test_local_cpu_is_filled_at_run_time(cat) -> None:
    cpu = cat.accelerator("cpu")
    assert cpu.peak_tflops["fp32"].value > 0
    assert cpu.memory_gb.value > 0
    assert cpu.peak_tflops["fp32"].source == "LOCAL"


def test_other_kinds_have_entries(cat) -> None:
    assert len(cat.cpus) >= 5 and "cpu" in cat.cpus
    nets = {n.id for n in cat.networks.values()}
    assert {"ib-hdr", "ib-ndr", "efa-v1", "efa-v2", "efa-v3", "nvlink3", "nvlink4", "pcie4"} <= nets
    assert {s.kind for s in cat.storage.values()} >= {
        "nvme",
        "sata-ssd",
        "hdd",
        "block",
        "object",
        "parallel-fs",
    }
    assert cat.profiles


# --- bad files are reported with file and field ------------------------------------------


def _bad(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mine.yaml"
    p.write_text(text)
    return p


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    p = _bad(tmp_path, "offerings:\n  - id: x\n    provider: [unclosed\n")
    with pytest.raises(DataError, match=r"mine\.yaml:\d+:\d+: YAML syntax error"):
        build_catalog(shipped_files(), [p])


def test_unknown_field_named(tmp_path: Path) -> None:
    p = _bad(tmp_path, "accelerators:\n  - id: h100-sxm5-80gb\n    colour: green\n")
    with pytest.raises(
        DataError, match=r"mine\.yaml: accelerators \(id h100-sxm5-80gb\)\.colour: unknown field"
    ):
        build_catalog(shipped_files(), [p])


def test_negative_price_named(tmp_path: Path) -> None:
    p = _bad(
        tmp_path,
        "offerings:\n  - id: aws-p4d.24xlarge\n    on_demand_usd_per_hour: {value: -3, source: me, as_of: 2026-01-01}\n",
    )
    with pytest.raises(
        DataError,
        match=r"on_demand_usd_per_hour\.value: Input should be greater than or equal to 0",
    ):
        build_catalog(shipped_files(), [p])


def test_duplicate_id_in_one_file(tmp_path: Path) -> None:
    entry = "  - {id: my-box, name: box, vendor: me, memory_gb: {value: 8, source: me, as_of: 2026-01-01}}\n"
    p = _bad(tmp_path, "accelerators:\n" + entry + entry)
    with pytest.raises(
        DataError, match=r"mine\.yaml: accelerators\[1\]\.id: duplicate id 'my-box'"
    ):
        build_catalog(shipped_files(), [p])


def test_duplicate_id_across_shipped_files(tmp_path: Path) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text((shipped_files()[0]).read_text())
    with pytest.raises(DataError, match="duplicate id"):
        build_catalog([*shipped_files(), copy], [])


def test_override_merges_fields(tmp_path: Path) -> None:
    p = _bad(
        tmp_path,
        "offerings:\n  - id: aws-p5.48xlarge\n    on_demand_usd_per_hour: {value: 40, source: our contract, as_of: 2026-11-01}\n",
    )
    cat = build_catalog(shipped_files(), [p])
    o = cat.offering("aws-p5.48xlarge")
    assert o.price_per_hour() == 40
    assert o.accelerator == "h100-sxm5-80gb"  # the rest of the entry is kept


def test_environment_variable_adds_files(tmp_path: Path, monkeypatch) -> None:
    p = _bad(
        tmp_path,
        "offerings:\n  - id: aws-p5.48xlarge\n    spot_usd_per_hour: {value: 12.5, source: broker, as_of: 2026-11-01}\n",
    )
    monkeypatch.setenv("ADVISOR_CATALOG", str(p))
    assert load_catalog().offering("aws-p5.48xlarge").price_per_hour("spot") == 12.5


# --- CLI ---------------------------------------------------------------------------------


def test_cli_list_accelerators(cli) -> None:
    r = cli("catalog", "list", "accelerators", "--json")
    assert r.code == 0
    assert len(json.loads(r.out)["accelerators"]) >= 25


@pytest.mark.parametrize("kind", ["cpus", "networks", "storage", "offerings", "profiles"])
def test_cli_list_kinds(cli, kind) -> None:
    r = cli("catalog", "list", kind)
    assert r.code == 0 and r.out.strip()


def test_cli_show_with_sources(cli) -> None:
    r = cli("catalog", "show", "h100-sxm5-80gb")
    assert r.code == 0
    assert "peak_tflops.bf16 = 989" in r.out
    assert "MLE-ACC" in r.out and "ml-engineering" in r.out
    doc = json.loads(cli("catalog", "show", "h100-sxm5-80gb", "--json").out)
    assert doc["peak_tflops"]["bf16"]["value"] == 989
    assert "MLE-ACC" in doc["sources"]


def test_cli_validate_shipped_and_user_files(cli, tmp_path: Path) -> None:
    assert cli("catalog", "validate").code == 0
    p = _bad(
        tmp_path,
        "offerings:\n  - id: aws-p4d.24xlarge\n    on_demand_usd_per_hour: {value: -1, source: me, as_of: 2026-01-01}\n",
    )
    r = cli("catalog", "validate", str(p))
    assert_user_error(r, 1, "mine.yaml", "on_demand_usd_per_hour")


def test_cli_unknown_kind_and_id(cli) -> None:
    assert_user_error(cli("catalog", "list", "acelerators"), 2, "did you mean 'accelerators'")
    r = cli("catalog", "show", "h100-sxm9")
    assert_user_error(r, 2, "unknown entry")
