"""A corpus of bad input through the CLI: every case gets one clear line on stderr, the
right exit code (2 bad usage, 1 bad data), no traceback, and leaves no file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_user_error

H100 = ["--accelerator", "h100", "--count", "8"]


def _files(tmp: Path) -> dict[str, Path]:
    """Bad files of every kind the CLI reads."""
    f = {}
    f["yaml_syntax"] = tmp / "syntax.yaml"
    f["yaml_syntax"].write_text("offerings:\n  - id: a\n    name: [broken\n")
    f["yaml_unknown_field"] = tmp / "unknown.yaml"
    f["yaml_unknown_field"].write_text("networks:\n  - id: ib-hdr\n    speed: 9000\n")
    f["yaml_negative"] = tmp / "negative.yaml"
    f["yaml_negative"].write_text(
        "offerings:\n  - id: aws-p5.48xlarge\n    spot_usd_per_hour: {value: -1, source: x, as_of: 2026-01-01}\n"
    )
    f["yaml_dup"] = tmp / "dup.yaml"
    f["yaml_dup"].write_text("accelerators:\n  - id: h100-sxm5-80gb\n    name: a\n    name: b\n")
    f["yaml_list"] = tmp / "list.yaml"
    f["yaml_list"].write_text("- just\n- a list\n")
    f["yaml_bad_ref"] = tmp / "badref.yaml"
    f["yaml_bad_ref"].write_text(
        "offerings:\n  - {id: my-node, provider: me, name: n, accelerator: h200-nope, accelerator_count: 8}\n"
    )
    f["yaml_binary"] = tmp / "binary.yaml"
    f["yaml_binary"].write_bytes(b"\xff\xfe\x00\x01")
    f["yaml_python_tag"] = tmp / "tag.yaml"
    f["yaml_python_tag"].write_text("offerings: !!python/object/apply:os.system ['echo pwned']\n")
    f["json_bad"] = tmp / "config.json"
    f["json_bad"].write_text('{"model_type": "llama",')
    f["json_missing"] = tmp / "missing-keys.json"
    f["json_missing"].write_text(
        '{"model_type": "mistral", "hidden_size": 4096, "num_hidden_layers": 32}'
    )
    f["json_list"] = tmp / "list.json"
    f["json_list"].write_text("[1, 2, 3]")
    f["json_bad_shape"] = tmp / "shape.json"
    f["json_bad_shape"].write_text(
        '{"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 5, "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096}'
    )
    f["json_negative"] = tmp / "neg.json"
    f["json_negative"].write_text(
        '{"model_type": "llama", "hidden_size": -4096, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008, "vocab_size": 32000, "max_position_embeddings": 4096}'
    )
    f["profile_bad"] = tmp / "profile.json"
    f["profile_bad"].write_text(
        '{"id": "p", "accelerator": "cpu", "matmul": {"fp32": {"max_efficiency": {"value": 7, "source": "x", "as_of": "2026-01-01"}}}}'
    )
    f["profile_other"] = tmp / "profile-h100.json"
    f["profile_other"].write_text('{"id": "p", "accelerator": "h100-sxm5-80gb"}')
    f["folder"] = tmp / "a-folder"
    f["folder"].mkdir()
    return f


CASES: list[tuple[str, list[str], int, str]] = [
    # estimate: model options
    ("params word", ["estimate", "--params", "big", *H100], 2, "cannot read 'big'"),
    ("params empty", ["estimate", "--params", "", *H100], 2, "empty value"),
    ("params nan", ["estimate", "--params", "nan", *H100], 2, "not a finite number"),
    ("params inf", ["estimate", "--params", "inf", *H100], 2, "not a finite number"),
    ("params negative", ["estimate", "--params", "-7B", *H100], 2, "greater than zero"),
    ("params zero", ["estimate", "--params", "0", *H100], 2, "greater than zero"),
    ("params absurd", ["estimate", "--params", "1e30", *H100], 2, "absurdly large"),
    ("params tiny", ["estimate", "--params", "10", *H100], 2, "too small"),
    ("model typo", ["estimate", "--model", "lama-2-7b", *H100], 2, "did you mean 'llama-2-7b'"),
    ("two model ways", ["estimate", "--params", "7B", "--model", "gpt2", *H100], 2, "one way"),
    ("shape incomplete", ["estimate", "--layers", "4", "--hidden", "256", *H100], 2, "--heads"),
    (
        "shape heads",
        ["estimate", "--layers", "4", "--hidden", "250", "--heads", "3", "--vocab", "100", *H100],
        2,
        "not divisible",
    ),
    (
        "mlp kind",
        [
            "estimate",
            "--layers",
            "4",
            "--hidden",
            "256",
            "--heads",
            "4",
            "--vocab",
            "100",
            "--mlp",
            "relu",
            *H100,
        ],
        2,
        "unknown mlp kind",
    ),
    (
        "kv without shape",
        ["estimate", "--params", "7B", "--kv-heads", "8", *H100],
        2,
        "explicit shape",
    ),
    ("seq zero", ["estimate", "--params", "7B", "--seq-len", "0", *H100], 2, "--seq-len"),
    ("layers text", ["estimate", "--layers", "four", *H100], 2, "--layers"),
    # estimate: hardware options
    ("no hardware", ["estimate", "--params", "7B"], 2, "--accelerator"),
    (
        "accelerator typo",
        ["estimate", "--params", "7B", "--accelerator", "a100-sxm-80g"],
        2,
        "did you mean",
    ),
    (
        "count zero",
        ["estimate", "--params", "7B", "--accelerator", "h100", "--count", "0"],
        2,
        "at least 1",
    ),
    (
        "count text",
        ["estimate", "--params", "7B", "--accelerator", "h100", "--count", "eight"],
        2,
        "not a whole number",
    ),
    (
        "count not node multiple",
        ["estimate", "--params", "7B", "--accelerator", "h100", "--count", "12"],
        2,
        "multiple of 8",
    ),
    (
        "offering typo",
        ["estimate", "--params", "7B", "--offering", "aws-p5.48xlarg"],
        2,
        "did you mean 'aws-p5.48xlarge'",
    ),
    (
        "nodes zero",
        ["estimate", "--params", "7B", "--offering", "aws-p5.48xlarge", "--nodes", "0"],
        2,
        "--nodes",
    ),
    (
        "count with offering",
        ["estimate", "--params", "7B", "--offering", "aws-p5.48xlarge", "--count", "8"],
        2,
        "--count goes with --accelerator",
    ),
    (
        "both hardware",
        ["estimate", "--params", "7B", "--offering", "aws-p5.48xlarge", "--accelerator", "h100"],
        2,
        "not both",
    ),
    (
        "pricing",
        ["estimate", "--params", "7B", "--offering", "aws-p5.48xlarge", "--pricing", "free"],
        2,
        "unknown pricing",
    ),
    (
        "grid negative",
        ["estimate", "--params", "7B", *H100, "--grid-intensity", "-1"],
        2,
        "--grid-intensity",
    ),
    (
        "no network multi-node",
        ["estimate", "--params", "7B", "--offering", "runpod-1x-a100-80gb-secure", "--nodes", "4"],
        1,
        "inter-node network",
    ),
    # estimate: layout options
    ("tp not dividing node", ["estimate", "--params", "7B", *H100, "--tp", "3"], 2, "--tp 3"),
    ("tp above node", ["estimate", "--params", "7B", *H100, "--tp", "16"], 2, "larger than a node"),
    ("tp heads", ["estimate", "--model", "gpt2-xl", *H100, "--tp", "2"], 2, "25 attention heads"),
    ("pp devices", ["estimate", "--params", "7B", *H100, "--pp", "3"], 2, "--pp 3 does not divide"),
    (
        "pp above layers",
        [
            "estimate",
            "--model",
            "llama-2-7b",
            "--accelerator",
            "h100",
            "--count",
            "48",
            "--pp",
            "48",
        ],
        2,
        "more than the model's 32 layers",
    ),
    (
        "vpp no pp",
        ["estimate", "--params", "7B", *H100, "--pp", "1", "--vpp", "2"],
        2,
        "needs pipeline",
    ),
    ("zero 4", ["estimate", "--params", "7B", *H100, "--zero", "4"], 2, "--zero"),
    (
        "micro batch 0",
        ["estimate", "--params", "7B", *H100, "--micro-batch", "0"],
        2,
        "--micro-batch",
    ),
    (
        "precision",
        ["estimate", "--params", "7B", *H100, "--precision", "fp3"],
        2,
        "unknown precision",
    ),
    (
        "recompute",
        ["estimate", "--params", "7B", *H100, "--recompute", "some"],
        2,
        "unknown recompute",
    ),
    (
        "optimizer",
        ["estimate", "--params", "7B", *H100, "--optimizer", "adam"],
        2,
        "did you mean 'adamw'",
    ),
    (
        "convention",
        ["estimate", "--params", "7B", *H100, "--convention", "fsdp"],
        2,
        "unknown convention",
    ),
    ("tokens", ["estimate", "--params", "7B", *H100, "--tokens", "-1T"], 2, "greater than zero"),
    (
        "batch tokens",
        ["estimate", "--params", "7B", *H100, "--global-batch-tokens", "lots"],
        2,
        "cannot read",
    ),
    ("unknown option", ["estimate", "--parms", "7B"], 2, "no such option"),
    # recommend
    (
        "budget negative",
        ["recommend", "--params", "1.3B", "--budget", "-$5"],
        2,
        "greater than zero",
    ),
    ("budget zero", ["recommend", "--params", "1.3B", "--budget", "$0"], 2, "greater than zero"),
    (
        "budget currency",
        ["recommend", "--params", "1.3B", "--budget", "5000 EUR"],
        2,
        "cannot read",
    ),
    ("budget absurd", ["recommend", "--params", "1.3B", "--budget", "1e20"], 2, "absurdly large"),
    (
        "deadline past",
        ["recommend", "--params", "1.3B", "--deadline", "2024-05-01"],
        2,
        "in the past",
    ),
    ("deadline negative", ["recommend", "--params", "1.3B", "--deadline", "-2d"], 2, "past"),
    (
        "deadline unit",
        ["recommend", "--params", "1.3B", "--deadline", "3 moons"],
        2,
        "unknown unit",
    ),
    (
        "deadline date",
        ["recommend", "--params", "1.3B", "--deadline", "2026-13-45"],
        2,
        "cannot read the date",
    ),
    ("max devices", ["recommend", "--params", "1.3B", "--max-devices", "-8"], 2, "--max-devices"),
    (
        "providers",
        ["recommend", "--params", "1.3B", "--providers", "azuer"],
        2,
        "did you mean 'Azure'",
    ),
    ("providers empty", ["recommend", "--params", "1.3B", "--providers", ","], 2, "empty list"),
    (
        "accelerators",
        ["recommend", "--params", "1.3B", "--accelerators", "b400"],
        2,
        "unknown accelerator",
    ),
    ("objective", ["recommend", "--params", "1.3B", "--objective", "fast"], 2, "unknown objective"),
    ("top zero", ["recommend", "--params", "1.3B", "--top", "0"], 2, "--top"),
    ("json and csv", ["recommend", "--params", "1.3B", "--json", "--csv"], 2, "not both"),
    ("nothing fits", ["recommend", "--params", "5T", "--max-devices", "8"], 1, "nothing fits"),
    (
        "no priced offering",
        ["recommend", "--params", "1.3B", "--accelerators", "gaudi3"],
        1,
        "no offering",
    ),
    # catalog
    ("catalog kind", ["catalog", "list", "gpus"], 2, "unknown catalog kind"),
    ("catalog show", ["catalog", "show", "nvidia-h100-sxm"], 2, "unknown entry"),
    ("catalog validate missing", ["catalog", "validate", "/nonexistent/x.yaml"], 1, "not found"),
    ("top-level unknown", ["frobnicate"], 2, "No such command"),
    # bench
    (
        "bench missing folder",
        ["bench", "--quick", "--out", "/nonexistent/b.json"],
        2,
        "does not exist",
    ),
    (
        "bench only typo",
        ["bench", "--quick", "--only", "matmull", "--out", "b.json"],
        2,
        "did you mean 'matmul'",
    ),
    ("bench device", ["bench", "--device", "tpu", "--out", "b.json"], 2, "unknown device 'tpu'"),
    ("bench nproc", ["bench", "--nproc", "0", "--out", "b.json"], 2, "--nproc"),
    ("bench timeout", ["bench", "--timeout", "1", "--out", "b.json"], 2, "--timeout"),
    ("bench threads", ["bench", "--threads", "0", "--out", "b.json"], 2, "--threads"),
    ("bench no out", ["bench", "--quick"], 2, "--out"),
    # calibrate
    ("calibrate missing", ["calibrate", "/nonexistent/b.json", "--out", "p.json"], 1, "not found"),
    ("calibrate no out", ["calibrate", "/nonexistent/b.json"], 2, "--out"),
    # validate
    ("validate missing profile", ["validate", "--profile", "/nonexistent/p.json"], 1, "not found"),
    (
        "validate device",
        ["validate", "--profile", "/nonexistent/p.json", "--device", "gpu"],
        2,
        "device",
    ),
    (
        "validate threads",
        ["validate", "--profile", "/nonexistent/p.json", "--threads", "0"],
        2,
        "--threads",
    ),
    # report
    (
        "report format",
        ["report", "--params", "125M", "--format", "pdf", "--out", "r.pdf"],
        2,
        "unknown format 'pdf'",
    ),
    (
        "report missing folder",
        ["report", "--params", "125M", "--out", "/nonexistent/r.html"],
        2,
        "does not exist",
    ),
    ("report params", ["report", "--params", "abc", "--out", "r.html"], 2, "cannot read 'abc'"),
    (
        "report budget",
        ["report", "--params", "125M", "--budget", "-1", "--out", "r.html"],
        2,
        "greater than zero",
    ),
    (
        "report provider",
        ["report", "--params", "125M", "--providers", "lamda", "--out", "r.html"],
        2,
        "did you mean 'Lambda'",
    ),
    # accuracy
    ("accuracy catalog", ["accuracy", "--catalog", "/nonexistent/c.yaml"], 1, "not found"),
]

FILE_CASES: list[tuple[str, list[str], int, str]] = [
    ("catalog syntax", ["catalog", "validate", "{yaml_syntax}"], 1, "YAML syntax error"),
    (
        "catalog unknown field",
        ["catalog", "validate", "{yaml_unknown_field}"],
        1,
        "speed: unknown field",
    ),
    (
        "catalog negative price",
        ["catalog", "validate", "{yaml_negative}"],
        1,
        "spot_usd_per_hour.value",
    ),
    ("catalog duplicate key", ["catalog", "validate", "{yaml_dup}"], 1, "duplicate key 'name'"),
    ("catalog not a mapping", ["catalog", "validate", "{yaml_list}"], 1, "expected a mapping"),
    (
        "catalog bad reference",
        ["catalog", "validate", "{yaml_bad_ref}"],
        1,
        "unknown accelerator 'h200-nope'",
    ),
    ("catalog binary", ["catalog", "validate", "{yaml_binary}"], 1, "binary.yaml"),
    ("catalog python tag", ["catalog", "validate", "{yaml_python_tag}"], 1, "YAML tag not allowed"),
    ("catalog empty folder", ["catalog", "validate", "{folder}"], 1, "no .yaml files"),
    (
        "catalog via estimate",
        ["estimate", "--params", "1B", *H100, "--catalog", "{yaml_negative}"],
        1,
        "negative.yaml",
    ),
    ("catalog via env", ["env:{yaml_syntax}", "recommend", "--params", "1B"], 1, "syntax.yaml"),
    ("hf not json", ["estimate", "--hf-config", "{json_bad}", *H100], 1, "not valid JSON"),
    (
        "hf missing keys",
        ["estimate", "--hf-config", "{json_missing}", *H100],
        1,
        "missing key 'num_attention_heads'",
    ),
    ("hf list", ["estimate", "--hf-config", "{json_list}", *H100], 1, "JSON object"),
    ("hf bad kv heads", ["estimate", "--hf-config", "{json_bad_shape}", *H100], 1, "kv_heads"),
    ("hf negative", ["estimate", "--hf-config", "{json_negative}", *H100], 1, "hidden"),
    ("hf folder", ["estimate", "--hf-config", "{folder}", *H100], 1, "is a folder"),
    ("hf recommend", ["recommend", "--hf-config", "{json_bad}"], 1, "not valid JSON"),
    (
        "profile invalid",
        ["estimate", "--params", "125M", "--accelerator", "cpu", "--profile", "{profile_bad}"],
        1,
        "max_efficiency",
    ),
    (
        "profile other device",
        ["estimate", "--params", "125M", "--accelerator", "cpu", "--profile", "{profile_other}"],
        2,
        "--profile is for",
    ),
    (
        "profile missing",
        ["estimate", "--params", "125M", "--accelerator", "cpu", "--profile", "/nope/p.json"],
        1,
        "not found",
    ),
    (
        "profile recommend",
        ["recommend", "--params", "125M", "--profile", "{profile_bad}"],
        1,
        "max_efficiency",
    ),
    ("bench out folder", ["bench", "--quick", "--out", "{folder}"], 2, "is a folder"),
    (
        "calibrate not json",
        ["calibrate", "{json_bad}", "--out", "{folder}/p.json"],
        1,
        "config.json",
    ),
    (
        "calibrate wrong schema",
        ["calibrate", "{profile_other}", "--out", "{folder}/p.json"],
        1,
        "profile-h100.json",
    ),
    ("calibrate folder", ["calibrate", "{folder}", "--out", "p.json"], 1, "is a folder"),
    ("validate bad profile", ["validate", "--profile", "{profile_bad}"], 1, "max_efficiency"),
    ("validate folder", ["validate", "--profile", "{folder}"], 1, "is a folder"),
    ("report out folder", ["report", "--params", "125M", "--out", "{folder}"], 2, "is a folder"),
    (
        "report bad catalog",
        [
            "report",
            "--params",
            "125M",
            "--catalog",
            "{yaml_unknown_field}",
            "--out",
            "{folder}/r.html",
        ],
        1,
        "unknown field",
    ),
]


@pytest.mark.parametrize(("name", "args", "code", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(cli, tmp_path, monkeypatch, name, args, code, needle) -> None:
    monkeypatch.chdir(tmp_path)
    assert_user_error(cli(*args), code, needle)
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize(
    ("name", "args", "code", "needle"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_bad_files(cli, tmp_path, monkeypatch, name, args, code, needle) -> None:
    files = _files(tmp_path)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    argv = [a.format(**files) for a in args]
    if argv[0].startswith("env:"):
        monkeypatch.setenv("ADVISOR_CATALOG", argv.pop(0)[4:])
    assert_user_error(cli(*argv), code, needle)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_corpus_size() -> None:
    assert len(CASES) + len(FILE_CASES) >= 60
