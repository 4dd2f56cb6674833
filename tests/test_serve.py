"""`advisor serve`: one configuration (issue 15 acceptance 1), bad input (acceptance 3),
the model's laws (Little, memory, saturation) and the search under SLOs (acceptance 2)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from advisor.catalog import load_catalog
from advisor.errors import DataError
from advisor.hardware import resolve_hardware
from advisor.model.params import count_params
from advisor.model.presets import preset
from advisor.serve.engines import load_engines
from advisor.serve.estimate import serve_estimate
from advisor.serve.spec import ServeSpec
from tests.conftest import assert_user_error

ACCEPT = [
    "serve",
    "--model",
    "llama-3-70b",
    "--accelerator",
    "h100-sxm5-80gb",
    "--count",
    "2",
    "--tp",
    "2",
    "--precision",
    "fp8",
    "--input-len",
    "2048",
    "--output-len",
    "128",
    "--json",
]
KEYS = (
    "memory_per_device_bytes",
    "max_batch",
    "ttft_s",
    "tpot_s",
    "output_tokens_per_s",
    "tokens_per_s",
    "cost_per_million_output_tokens_usd",
)


def _one(**kw: object) -> dict:
    cat = load_catalog()
    hw = resolve_hardware(cat, kw.pop("acc", "h100-sxm5-80gb"), kw.pop("count", 1), None, None)
    spec = preset(str(kw.pop("model", "llama-3-8b")))
    return serve_estimate(cat, spec, hw, ServeSpec(**kw))  # type: ignore[arg-type]


def test_acceptance_json_has_every_key_with_a_range(cli) -> None:
    r = cli(*ACCEPT)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    for key in KEYS:
        assert "range" in doc[key], key
    for key in ("ttft_s", "tpot_s", "output_tokens_per_s"):
        lo, hi = doc[key]["range"]
        assert lo <= doc[key]["value"] <= hi, key
    assert doc["fits"] and doc["max_batch"]["value"] >= 1
    assert doc["precision"] == {"weights": "fp8", "kv_cache": "fp8", "compute": "fp8"}
    # No offering: no price, so the cost is null rather than made up.
    assert doc["cost_per_million_output_tokens_usd"]["value"] is None


def test_memory_follows_the_shape() -> None:
    """Weights: every parameter once over tp; KV: 2 x layers x kv heads/tp x head_dim x bytes."""
    spec = preset("llama-3-70b")
    doc = _one(
        model="llama-3-70b", count=2, tp=2, weight_precision="fp8", input_len=2048, output_len=128
    )
    mem = doc["memory_per_device_bytes"]["value"]
    assert mem["weights"] == pytest.approx(count_params(spec).total * 1.0 / 2)
    assert mem["kv_cache_per_token"] == 2 * spec.layers * (spec.n_kv // 2) * spec.d_head * 1
    held = 2048 + 128 / 2
    assert mem["kv_cache"] <= mem["kv_cache_budget"] + 1
    assert doc["max_batch"]["value"] == min(
        256, int(mem["kv_cache_budget"] // (mem["kv_cache_per_token"] * held))
    )


def test_fp8_kv_cache_halves_bf16_and_batch_grows() -> None:
    a = _one(weight_precision="bf16", kv_precision="bf16")
    b = _one(weight_precision="bf16", kv_precision="fp8", engine="trtllm")
    ma, mb = a["memory_per_device_bytes"]["value"], b["memory_per_device_bytes"]["value"]
    assert mb["kv_cache_per_token"] * 2 == ma["kv_cache_per_token"]


def test_littles_law_at_a_rate() -> None:
    doc = _one(rate=4.0, input_len=512, output_len=200)
    assert not doc["saturated"]
    assert doc["output_tokens_per_s"]["value"] == pytest.approx(4.0 * 200)
    latency = doc["ttft_s"]["value"] + 200 * doc["tpot_s"]["value"]
    assert doc["batch"] == pytest.approx(4.0 * latency, rel=1e-3)


def test_more_load_more_latency_until_saturation() -> None:
    offline = _one()
    cap = offline["requests_per_s"]["value"]
    low = _one(rate=0.05 * cap)
    high = _one(rate=0.8 * cap)
    assert high["tpot_s"]["value"] > low["tpot_s"]["value"]
    assert high["ttft_s"]["value"] > low["ttft_s"]["value"]
    assert offline["output_tokens_per_s"]["value"] >= high["output_tokens_per_s"]["value"]
    over = _one(rate=cap * 3)
    assert over["saturated"] and over["tpot_s"]["value"] is None


def test_concurrency_beyond_the_batch_waits_in_the_queue() -> None:
    small = _one(concurrency=8.0)
    big = _one(concurrency=100000.0)
    assert big["batch"] == big["max_batch"]["value"]
    assert big["ttft_s"]["value"] > 10 * small["ttft_s"]["value"]


def test_moe_reads_only_the_experts_a_batch_hits() -> None:
    spec = preset("mixtral-8x7b")
    counts = count_params(spec)
    doc = _one(model="mixtral-8x7b", concurrency=1.0, weight_precision="fp8")
    assert doc["fits"]
    assert doc["active_params"] < doc["params"] == counts.total
    assert doc["memory_per_device_bytes"]["value"]["weights"] == pytest.approx(counts.total * 1)
    dense_like = _one(model="mixtral-8x7b", concurrency=64.0, weight_precision="fp8")
    # One token reads top_k of 8 experts; 64 tokens read nearly all: the step gets slower.
    assert dense_like["breakdown_s"]["step_memory"] > doc["breakdown_s"]["step_memory"]


def test_cost_per_million_tokens_from_the_offering_price(cli) -> None:
    cat = load_catalog()
    off = next(
        o
        for o in cat.offerings.values()
        if o.accelerator == "h100-sxm5-80gb" and o.on_demand_usd_per_hour
    )
    r = cli("serve", "--model", "llama-3-8b", "--offering", off.id, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    price = off.on_demand_usd_per_hour.value
    out = doc["output_tokens_per_s"]["value"]
    assert doc["cost_per_million_output_tokens_usd"]["value"] == pytest.approx(
        price / (out * 3600) * 1e6
    )


def test_text_output_names_the_parts(cli) -> None:
    r = cli(*ACCEPT[:-1])
    assert r.code == 0, r.err
    for word in (
        "weights",
        "KV cache per token",
        "time to first token",
        "time per output token",
        "output tokens/s",
    ):
        assert word in r.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--output-len", "0"], "--output-len"),
        (
            ["--accelerator", "a100-sxm4-80gb", "--kv-precision", "fp8"],
            "cannot hold a fp8 KV cache",
        ),
        (["--accelerator", "h100", "--kv-precision", "fp4"], "cannot hold a fp4 KV cache"),
        (
            ["--accelerator", "h100", "--count", "4", "--tp", "3"],
            "does not divide the 32 attention heads",
        ),
        (["--ttft-slo", "0"], "--ttft-slo"),
        (["--tpot-slo", "0ms"], "--tpot-slo"),
        (["--ttft-slo", "fast"], "--ttft-slo"),
        (["--rate", "0"], "--rate"),
        (["--rate", "2", "--concurrency", "4", "--accelerator", "h100"], "not both"),
        (["--engine", "vlm", "--accelerator", "h100"], "did you mean 'vllm'"),
        (["--precision", "fp9", "--accelerator", "h100"], "precision"),
    ],
)
def test_bad_input_is_one_line(cli, args, needle) -> None:
    r = cli("serve", "--model", "llama-3-8b", *args)
    assert_user_error(r, 2, needle)


def test_engines_file_errors_name_the_file_and_field(tmp_path) -> None:
    bad = tmp_path / "engines.yaml"
    bad.write_text("schema_version: 1\nengines:\n  - id: x\n    name: x\n    kv_fraction: 0.9\n")
    with pytest.raises(DataError, match=r"engines.yaml: engines\[0\] \(id x\)\.kv_fraction"):
        load_engines(bad)


# --- search (acceptance 2) -------------------------------------------------------------

SEARCH = [
    "serve",
    "--model",
    "llama-3-8b",
    "--rate",
    "5",
    "--ttft-slo",
    "500ms",
    "--tpot-slo",
    "40ms",
]


def test_search_ranks_by_cost_among_those_meeting_the_slos(cli) -> None:
    r = cli(*SEARCH, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    opts = doc["options"]
    assert opts, doc["closest"]
    costs = [o["cost_per_million_output_tokens_usd"] for o in opts]
    assert costs == sorted(costs)
    for o in opts:
        assert o["meets_slo"] and o["ttft_s"] <= 0.5 and o["tpot_s"] <= 0.04
    assert [o["rank"] for o in opts] == list(range(1, len(opts) + 1))
    assert doc["query"]["ttft_slo_s"] == 0.5


def test_search_says_none_meets_and_which_comes_closest(cli) -> None:
    args = ("serve", "--model", "llama-3-70b", "--rate", "5", "--tpot-slo", "0.1ms",
            "--accelerators", "h100")  # fmt: skip
    r = cli(*args, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["options"] == [] and doc["closest"]
    ratios = [o["slo_ratio"] for o in doc["closest"]]
    assert ratios == sorted(ratios) and ratios[0] > 1
    text = cli(*args)
    assert "none of" in text.out and "closest" in text.out


def test_search_csv_and_table(cli) -> None:
    r = cli(*SEARCH, "--csv", "--top", "3")
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == 3 and rows[0]["rank"] == "1"
    t = cli(*SEARCH, "--top", "3")
    assert "meeting the SLOs" in t.out


def test_search_on_given_hardware_tries_tp_and_precision(cli) -> None:
    r = cli(
        "serve",
        "--model",
        "llama-3-70b",
        "--accelerator",
        "h100",
        "--count",
        "8",
        "--tpot-slo",
        "1s",
        "--json",
    )
    doc = json.loads(r.out)
    seen = {(o["tp"], o["weights"]) for o in doc["options"]}
    assert len({tp for tp, _ in seen}) > 1 and len({w for _, w in seen}) > 1


def test_search_writes_a_report(cli, tmp_path) -> None:
    out = tmp_path / "serve.html"
    r = cli(*SEARCH, "--top", "2", "--report", str(out))
    assert r.code == 0, r.err
    text = out.read_text()
    assert text.startswith("<!doctype html>") and "How well the serving model predicts" in text
    assert "cross-validated median" in text and "<td>1</td>" in text
    md = tmp_path / "serve.md"
    assert cli(*SEARCH, "--top", "2", "--report", str(md)).code == 0
    assert md.read_text().startswith("# Serving llama-3-8b")


def test_report_needs_a_search(cli, tmp_path) -> None:
    r = cli(*ACCEPT[:-1], "--report", str(tmp_path / "x.html"))
    assert_user_error(r, 2, "--report")


def test_serve_never_imports_torch_or_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['matplotlib'] = None\n"
        "from advisor.cli.app import run\n"
        "sys.exit(run(['serve', '--model', 'llama-3-8b', '--accelerator', 'h100', '--json']))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
