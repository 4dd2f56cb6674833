"""`advisor estimate` per the acceptance list, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_user_error

DATA = Path(__file__).parent / "data"
LLAMA = [
    "estimate",
    "--model",
    "llama-2-7b",
    "--seq-len",
    "4096",
    "--accelerator",
    "a100-sxm4-80gb",
    "--count",
    "8",
    "--tp",
    "1",
    "--pp",
    "1",
    "--micro-batch",
    "1",
    "--precision",
    "bf16",
    "--recompute",
    "full",
    "--json",
]


def _json(cli, *args):
    r = cli(*args)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_llama_model_state_bytes_per_param(cli) -> None:
    d = _json(cli, *LLAMA, "--zero", "0")
    assert d["params"] == 6_738_415_616
    m = d["memory_per_device_bytes"]
    states = m["weights"] + m["gradients"] + m["optimizer"]
    assert 16 <= states / d["params"] <= 18
    assert d["plan"] == {
        "dp": 8,
        "tp": 1,
        "pp": 1,
        "cp": 1,
        "ep": 1,
        "vpp": 1,
        "sp": False,
        "zero": 0,
        "micro_batch": 1,
        "grad_accum": d["plan"]["grad_accum"],
        "recompute": "full",
        "precision": "bf16",
        "stage_layers": [32],
    }
    d3 = _json(cli, *LLAMA, "--zero", "3")
    m3 = d3["memory_per_device_bytes"]
    assert m3["weights"] + m3["gradients"] + m3["optimizer"] == pytest.approx(states / 8)


def test_contract_keys(cli) -> None:
    d = _json(cli, *LLAMA, "--zero", "1")
    for key in ("params", "flops_per_token", "memory_per_device_bytes", "fits", "plan"):
        assert key in d
    assert set(d["memory_per_device_bytes"]) == {
        "weights",
        "gradients",
        "optimizer",
        "activations",
        "other",
        "total",
    }
    assert d["fits"] is True


def test_gpt3_175b_first_stage_activations(cli) -> None:
    d = _json(
        cli,
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
        "--sp",
        "--recompute",
        "selective",
        "--micro-batch",
        "1",
        "--zero",
        "0",
        "--vpp",
        "1",
        "--global-batch-tokens",
        str(64 * 2048 * 8),
        "--json",
    )
    s, h, l, t = 2048, 12288, 96, 8
    assert d["memory_per_device_bytes"]["activations"] == pytest.approx(
        34 * s * h * l / t, rel=0.02
    )


def test_70b_on_one_a100_does_not_fit(cli) -> None:
    d = _json(
        cli,
        "estimate",
        "--params",
        "70B",
        "--accelerator",
        "a100-80gb",
        "--count",
        "1",
        "--zero",
        "0",
        "--tp",
        "1",
        "--pp",
        "1",
        "--json",
    )
    assert d["fits"] is False


def test_left_out_layout_is_chosen_and_fits(cli) -> None:
    d = _json(
        cli,
        "estimate",
        "--params",
        "13B",
        "--accelerator",
        "a100-sxm4-80gb",
        "--count",
        "8",
        "--json",
    )
    assert d["fits"] is True
    assert {"tp", "pp", "zero", "micro_batch", "recompute"} <= set(d["chosen"])


def test_human_output_marks_chosen_fields(cli) -> None:
    r = cli("estimate", "--params", "1.3B", "--accelerator", "h100", "--count", "8")
    assert r.code == 0
    assert "chosen by advisor" in r.out and "Memory per device" in r.out


def test_hf_config_and_explicit_shape(cli) -> None:
    d = _json(
        cli,
        "estimate",
        "--hf-config",
        str(DATA / "mistral-7b-config.json"),
        "--seq-len",
        "4096",
        "--accelerator",
        "h100",
        "--count",
        "8",
        "--json",
    )
    assert d["params"] == 7_241_732_096
    d = _json(
        cli,
        "estimate",
        "--layers",
        "32",
        "--hidden",
        "4096",
        "--heads",
        "32",
        "--kv-heads",
        "8",
        "--ffn-hidden",
        "14336",
        "--mlp",
        "swiglu",
        "--vocab",
        "32000",
        "--accelerator",
        "h100",
        "--count",
        "8",
        "--json",
    )
    assert d["params"] == 7_241_732_096


def test_offering_and_nodes(cli) -> None:
    d = _json(
        cli,
        "estimate",
        "--params",
        "7B",
        "--offering",
        "aws-p4d.24xlarge",
        "--nodes",
        "2",
        "--json",
    )
    assert d["hardware"]["devices"] == 16 and d["hardware"]["accelerator"] == "a100-sxm4-40gb"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--params", "abc", "--accelerator", "h100"], 2, "cannot read 'abc'"),
        (["--params", "1B", "--accelerator", "h100", "--count", "0"], 2, "--count"),
        (["--params", "1B", "--accelerator", "h10"], 2, "did you mean 'h100-sxm5-80gb'"),
        (["--params", "7B", "--accelerator", "h100", "--count", "8", "--tp", "3"], 2, "--tp 3"),
        (
            ["--model", "llama-2-7b", "--accelerator", "h100", "--count", "40", "--pp", "40"],
            2,
            "more than the model's 32 layers",
        ),
        (["--hf-config", "/nonexistent/config.json", "--accelerator", "h100"], 1, "not found"),
        (["--model", "llama-2-7", "--accelerator", "h100"], 2, "did you mean 'llama-2-7b'"),
        (
            ["--params", "1B", "--accelerator", "h100", "--precision", "bf17"],
            2,
            "did you mean 'bf16'",
        ),
        (["--params", "1B", "--accelerator", "h100", "--tpp", "2"], 2, "--tp"),
        (["--params", "1B"], 2, "--accelerator"),
        (["--params", "-5B", "--accelerator", "h100"], 2, "greater than zero"),
        (["--params", "1B", "--model", "gpt2", "--accelerator", "h100"], 2, "one way"),
    ],
)
def test_bad_input(cli, args, code, needle) -> None:
    assert_user_error(cli("estimate", *args), code, needle)


def test_bad_hf_configs(cli, tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{ not json")
    assert_user_error(
        cli("estimate", "--hf-config", str(bad), "--accelerator", "h100"), 1, "not valid JSON"
    )
    bad.write_text('{"model_type": "llama", "hidden_size": 4096}')
    assert_user_error(
        cli("estimate", "--hf-config", str(bad), "--accelerator", "h100"), 1, "missing key"
    )


def test_bad_catalog_file(cli, tmp_path: Path) -> None:
    p = tmp_path / "dup.yaml"
    p.write_text("offerings:\n  - id: a\n    provider: x\n  - id: a\n    provider: y\n")
    r = cli("estimate", "--params", "1B", "--accelerator", "h100", "--catalog", str(p))
    assert_user_error(r, 1, "dup.yaml", "duplicate id 'a'")


def test_debug_shows_traceback(cli) -> None:
    with pytest.raises(Exception, match="did you mean"):
        cli("--debug", "estimate", "--params", "1B", "--accelerator", "h10")


def test_estimate_does_not_import_torch_or_matplotlib() -> None:
    code = (
        "import sys; from advisor.cli.app import run; "
        "run(['estimate','--params','1.3B','--accelerator','h100','--count','8','--json']); "
        "bad = [m for m in ('torch', 'matplotlib') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


LONG_CONTEXT = [
    "--model",
    "llama-3-8b",
    "--seq-len",
    "131072",
    "--accelerator",
    "h100",
    "--count",
    "8",
]


def test_full_recompute_at_long_context_fits_and_holds_less(cli) -> None:
    # Issue 9 item 2: full recomputation was charged the s x s scores of a working block
    # (157.8 GiB against 91.7 GiB with none), though flash attention is assumed.
    full = _json(cli, "estimate", *LONG_CONTEXT, "--tp", "8", "--recompute", "full", "--json")
    none = _json(cli, "estimate", *LONG_CONTEXT, "--tp", "8", "--recompute", "none", "--json")
    act = full["memory_per_device_bytes"]["activations"]
    assert act < none["memory_per_device_bytes"]["activations"] / 2
    assert full["fits"] is True
    searched = _json(cli, "estimate", *LONG_CONTEXT, "--json")
    assert searched["fits"] is True


def test_params_7b_and_7_5b_use_one_family_and_context(cli) -> None:
    """7B used to snap to Pythia at 2k context and 7.5B to Mistral at 8k (+46% device-hours)."""
    runs = [
        _json(cli, "estimate", "--params", p, "--accelerator", "h100", "--count", "8", "--json")
        for p in ("7B", "7.5B")
    ]
    keys = ("mlp", "vocab", "position", "norm", "seq_len", "source")
    a, b = ([r["model"].get(k) for k in keys] for r in runs)
    assert a == b
    for r in runs:
        assert any(x.startswith(f"seq_len {r['model']['seq_len']}") for x in r["assumptions"])
        assert any("nearest published shape" in x for x in r["assumptions"])
    # Cost follows compute (params x tokens), with no jump on top.
    compute = [r["params"] * r["tokens"] for r in runs]
    hours = [r["device_hours"] for r in runs]
    assert hours[1] / hours[0] < 1.1 * compute[1] / compute[0]
