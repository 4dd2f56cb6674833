"""The published fine-tuning rows (issue 11 item 4): every row mapped or given a reason,
the cells read into the model's names, and the checks harness with a fake predictor."""

from __future__ import annotations

import csv
import math

import pytest
import yaml

from advisor.catalog import load_catalog
from advisor.finetune_cells import (
    parse_lora_targets,
    parse_method,
    parse_optimizer,
    parse_quant,
)
from advisor.finetune_checks import (
    NAPKIN_BASE_BYTES,
    NAPKIN_TRAINABLE_BYTES,
    finetune_checks,
    lora_trainable_params,
    napkin_memory_bytes,
    napkin_tokens_per_s_per_device,
)
from advisor.finetune_runs import (
    RUNS_FILE,
    SOURCES_FILE,
    load_finetune_runs,
    reason_counts,
    source_of,
)
from advisor.model.flops import model_flops_per_token
from advisor.model.params import count_params
from advisor.model.presets import preset, preset_names

ROWS = 94  # finetune_runs.md: "94 rows, 23 columns"


def _runs() -> dict:
    return {r.id: r for r in load_finetune_runs()}


def test_every_row_is_mapped_or_has_a_reason() -> None:
    runs = load_finetune_runs()
    assert len(runs) == ROWS
    mapped = [r for r in runs if r.reason is None]
    reasons = [r for r in runs if r.reason is not None]
    assert len(mapped) + len(reasons) == ROWS
    assert mapped and reasons
    assert sum(reason_counts(runs).values()) == len(reasons)
    for r in mapped:  # a mapped row has what a prediction needs
        assert r.spec and r.accelerator and r.devices and r.method and r.precision
        assert r.memory_reason is None or r.throughput_reason is None
        if r.memory_reason is None:
            assert r.peak_memory_bytes and r.micro_batch and r.seq_len_memory
        if r.throughput_reason is None:
            assert r.tokens_per_s_per_device and r.seq_len
        if r.method != "full":
            assert r.lora_rank and r.lora_targets


def test_the_csv_ships_unchanged_with_its_notes() -> None:
    with RUNS_FILE.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == ROWS and len(rows[0]) == 23
    assert all(r["source"] for r in rows)
    assert RUNS_FILE.with_suffix(".md").read_text(encoding="utf-8").startswith("# Fine-tuning")


def test_every_printed_name_is_in_the_sources_file() -> None:
    """No row falls through to 'not mapped': each accelerator string and model name the
    CSV prints has an entry, each id a source prefix; ids and presets exist."""
    data = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    with RUNS_FILE.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    catalog = load_catalog()
    names = set(preset_names())
    for r in rows:
        assert r["accelerator"] in data["accelerators"], r["accelerator"]
        assert r["model"] in data["models"], r["model"]
        assert source_of(r["id"])["source"]
    for entry in data["accelerators"].values():
        assert (entry["id"] is None and entry["why"]) or catalog.accelerator(entry["id"])
    for entry in data["models"].values():
        assert entry.get("preset") in names or entry.get("shape") or entry.get("why")
    for entry in data["sources"].values():
        assert catalog.stack(entry["stack"])
        assert entry["memory_unit"] in ("GiB", "GB")


def test_sources_are_the_cross_validation_units() -> None:
    runs = _runs()
    assert runs["tt-3b-+packed"].source == runs["ttold-7b-lora-1x4090"].source == "torchtune"
    assert runs["lg-7b-lora-mb1"].source == runs["lgc-llama3-8b-lora-1xa10g"].source == "litgpt"
    mlperf = [r for r in runs.values() if r.id.startswith("mlpt40")]
    assert {r.source for r in mlperf} == {"mlperf-training-v4.0"}
    assert runs["mlpt40-nvidia-eos_ngc24.04_nemo"].stack == "megatron"
    assert runs["mlpt40-junipernetworks-h100_n1_ngc24.1_pytorch_deepspeed"].stack == "deepspeed"


def test_memory_units_follow_the_notes() -> None:
    """torchtune prints GiB, litgpt GB (finetune_runs.md Conventions)."""
    runs = _runs()
    tt = runs["tt-3b-+packed"]
    assert tt.memory_unit == "GiB" and tt.peak_memory_bytes == pytest.approx(60.0 * 2**30)
    lg = runs["lg-7b-lora-mb1"]
    assert lg.memory_unit == "GB" and lg.peak_memory_bytes == pytest.approx(21.30e9)
    assert runs["qlora-65b-1x48gb"].peak_memory_bytes is None  # '<48GB' is a bound


def test_throughput_is_per_device() -> None:
    runs = _runs()
    assert runs["ttold-70b-lora-8xa100"].tokens_per_s_per_device == pytest.approx(3384 / 8)
    nemo = runs["mlpt40-nvidia-eos_n128_ngc24.04_nemo"]
    assert nemo.tokens_per_s_per_device == pytest.approx(1532274 / 1024)
    tgs = runs["lf-7b-hf-16"]  # LLaMA-Factory prints tokens per GPU per second
    assert tgs.tokens_per_s_per_device == 2392


def test_cells_read_into_the_models_names() -> None:
    runs = _runs()
    assert runs["tt-3b-baseline"].optimizer == "adamw"  # "bf16 AdamW (default)"
    assert runs["tt-3b-+adamw8bit"].optimizer == "adam8bit"
    assert runs["tt-3b-lora"].optimizer == "adamw"  # "(no optimizer_in_bwd / 8-bit)"
    assert runs["uns-t4-alpaca-hf"].optimizer == "adam8bit"  # adamw_8bit
    paged = runs["ttold-7b-full-1x4090"]
    assert (paged.optimizer, paged.optimizer_paged, paged.optimizer_in_backward) == (
        "adamw",
        True,
        True,
    )
    assert runs["lg-7b-qlora-nf4dq-mb1"].quant == "nf4"
    assert runs["lg-7b-qlora-nf4dq-mb1"].double_quant is True
    assert runs["lg-7b-qlora-nf4-mb1"].double_quant is False
    assert runs["qwen-7b-qlora-2048"].quant == "gptq-int4"
    assert runs["mlpt40-nvidia-h200_ngc24.04_nemo"].precision == "fp8"
    assert runs["mlpt40-nvidia-h200_ngc24.04_nemo"].lora_fused_qkv
    assert runs["ttold-7b-lora-2x4090"].recompute == "none"  # distributed config
    assert runs["ttold-7b-lora-1x4090"].recompute == "full"


@pytest.mark.parametrize(
    ("text", "targets", "extra"),
    [
        ("q_proj,v_proj; alpha 16", ("q", "v"), ()),
        ("query,value (trainable params 4,194,304)", ("q", "v"), ()),
        ("W_q,W_v", ("q", "v"), ()),
        ("q,k,v,output_proj + MLP + output head; alpha 16", ("q", "k", "v", "o", "gate", "up", "down"), ("output",)),
        ("all linear layers (paper)", ("q", "k", "v", "o", "gate", "up", "down"), ()),
        ("attention: fused QKV + O (reference --lora_target_modules qkv_proj,o_proj)", ("q", "k", "v", "o"), ()),
        ("DEFAULT (c_attn)", ("q", "k", "v"), ()),
        ("LoRA without embedding/output (the 'LoRA' rows, not 'LoRA (emb)')", None, ()),
        ("trainable 1,229,760", None, ()),
    ],
)  # fmt: skip
def test_lora_targets_parse(text: str, targets: tuple | None, extra: tuple) -> None:
    assert parse_lora_targets(text) == (targets, extra)


def test_method_quant_and_optimizer_parse() -> None:
    assert parse_method("QLoRA (Unsloth+FA2)") == "qlora"
    assert parse_method("LoRA + DeepSpeed ZeRO-3") == "lora"
    assert parse_method("LoRA/QLoRA (Unsloth Open)") is None
    assert parse_method("RLHF PPO (step 3)") is None
    assert parse_method("full (SFT, RLHF step 1)") == "full"
    assert parse_quant("NF4 + double quantization", "qlora") == ("nf4", True)
    assert parse_quant("NF4 (torchao)", "qlora") == ("nf4", None)
    assert parse_quant("not stated in table", None) == (None, None)
    assert parse_optimizer("paged AdamW (paged optimizers)") == ("adamw", True, False)
    assert parse_optimizer("not stated") == (None, False, False)


def test_lora_counts_match_the_printed_ones() -> None:
    """litgpt prints 4,194,304 (Llama 2 7B) and 6,553,600 (13B) for q+v at r = 8;
    the notes derive 44,564,480 for MLPerf's fused QKV + O at r = 16 on Llama 2 70B."""
    assert lora_trainable_params(preset("llama-2-7b"), 8, ("q", "v")) == 4_194_304
    assert lora_trainable_params(preset("llama-2-13b"), 8, ("q", "v")) == 6_553_600
    fused = lora_trainable_params(preset("llama-2-70b"), 16, ("q", "k", "v", "o"), True)
    assert fused == 44_564_480
    every = ("q", "k", "v", "o", "gate", "up", "down")
    assert lora_trainable_params(preset("llama-2-70b"), 16, every) == 207_093_760


def test_napkins() -> None:
    runs = _runs()
    full = runs["tt-3b-+packed"]
    n = count_params(full.spec).total
    assert napkin_memory_bytes(full) == (NAPKIN_BASE_BYTES + NAPKIN_TRAINABLE_BYTES) * n
    lora = runs["lg-7b-lora-mb1"]
    expect = NAPKIN_BASE_BYTES * count_params(lora.spec).total + NAPKIN_TRAINABLE_BYTES * 4_194_304
    assert napkin_memory_bytes(lora) == expect
    catalog = load_catalog()
    nemo = runs["mlpt40-nvidia-eos_ngc24.04_nemo"]
    peak = catalog.accelerator("h100-sxm5-80gb").peak_flops("fp8")
    got = napkin_tokens_per_s_per_device(nemo, catalog)
    assert got == pytest.approx(0.45 * peak / model_flops_per_token(nemo.spec))


def _fake(run):
    mem = run.peak_memory_bytes * 1.1 if run.peak_memory_bytes else None
    tps = run.tokens_per_s_per_device * 0.8 if run.tokens_per_s_per_device else None
    return mem, tps


def test_checks_with_a_fake_predictor() -> None:
    res = finetune_checks(_fake)
    runs = load_finetune_runs()
    mem_rows = [r for r in res.rows if r.metric == "peak_memory_bytes"]
    tps_rows = [r for r in res.rows if r.metric == "tokens_per_s_per_device"]
    assert len(mem_rows) == sum(r.memory_reason is None for r in runs)
    assert len(tps_rows) == sum(r.throughput_reason is None for r in runs)
    assert all(r.error == pytest.approx(0.1) for r in mem_rows)
    assert all(r.error == pytest.approx(-0.2) for r in tps_rows)
    mem = res.summary["peak_memory_bytes"]
    assert mem["overall"]["model"]["median_abs_error"] == pytest.approx(0.1)
    assert mem["overall"]["model"]["n"] == len(mem_rows)
    assert mem["overall"]["napkin"]["n"] == len(mem_rows)
    tps = res.summary["tokens_per_s_per_device"]
    assert tps["by_source"]["mlperf-training-v4.0"]["model"]["p90_abs_error"] == pytest.approx(0.2)
    assert set(mem["by_source"]) >= {"torchtune", "litgpt"}
    checked = {r.id for r in res.rows}
    assert checked.isdisjoint(res.not_checked)
    assert checked | set(res.not_checked) == {r.id for r in runs}
    assert res.figures_not_checked["lg-7b-lora-mb1"] == {
        "tokens_per_s_per_device": _runs()["lg-7b-lora-mb1"].throughput_reason
    }
    assert not res.cross_validated


def test_a_row_the_model_cannot_score_is_reported() -> None:
    def predict(run):
        if run.id == "ttold-7b-lora-1x4090":
            raise ValueError("no layout fits")
        return _fake(run)

    res = finetune_checks(predict)
    assert "no layout fits" in res.not_checked["ttold-7b-lora-1x4090"]
    assert "ttold-7b-lora-1x4090" not in {r.id for r in res.rows}


def test_leave_one_source_out_fit_never_sees_the_held_out_source() -> None:
    seen: list[set[str]] = []

    def fit(train):
        sources = {r.source for r in train}
        seen.append(sources)

        def predict(run):
            assert run.source not in sources
            return _fake(run)

        return predict

    res = finetune_checks(fit=fit)
    assert res.cross_validated and res.rows
    assert len(seen) == len({r.source for r in load_finetune_runs() if r.reason is None})
    assert not math.isnan(res.summary["peak_memory_bytes"]["overall"]["model"]["median_abs_error"])
    with pytest.raises(ValueError):
        finetune_checks(_fake, fit=fit)


def test_a_malformed_sources_file_names_the_file_and_field() -> None:
    from advisor.errors import AdvisorError
    from advisor.finetune_sources import validate_sources

    raw = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    raw["sources"]["tt"]["memory_unit"] = "MiB"
    with pytest.raises(AdvisorError, match=r"finetune_sources\.yaml: sources\.tt\.memory_unit"):
        validate_sources(raw)
    raw = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    raw["accelerators"]["T4"] = {"id": None}
    with pytest.raises(AdvisorError, match=r"accelerators\.T4: a null id needs a 'why'"):
        validate_sources(raw)
