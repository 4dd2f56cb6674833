"""Issue 11 item 4: the published fine-tuning rows predicted by the model (peak memory
and tokens/s per device), the medians it reaches held in CI, and the section of
`advisor accuracy`. Nothing is fitted on these rows: the errors are out-of-sample."""

from __future__ import annotations

import json

import pytest

from advisor.finetune_runs import load_finetune_runs
from advisor.model.memory import state_bytes
from advisor.model.presets import preset
from advisor.model.spec import TrainingSpec


@pytest.fixture(scope="module")
def checks():
    from advisor.finetune_accuracy import finetune_accuracy

    return finetune_accuracy()


def _run(run_id: str):
    return next(r for r in load_finetune_runs() if r.id == run_id)


def test_pure_bf16_states_are_eight_bytes_with_adamw() -> None:
    # litgpt bf16-true / torchtune bf16 recipes: bf16 weights, gradients and AdamW
    # moments, no fp32 master (finetune-notes.md: "8 B/param pure bf16").
    sb = state_bytes("bf16", "adamw", "pure", preset("llama-2-7b"))
    assert sb.weights + sb.grads + sb.fp32_grads + sb.master + sb.moments == 8.0
    assert state_bytes("bf16", "adam8bit", "pure", preset("llama-2-7b")).moments == pytest.approx(
        2.0 + 8.0 / 2048
    )
    assert TrainingSpec(convention="pure").convention == "pure"


def test_rows_map_to_the_projects_conventions() -> None:
    from advisor.finetune_predict import finetune_spec, layout_choice, training_spec

    run = _run("lg-7b-qlora-nf4dq-mb1")
    ft = finetune_spec(run)
    assert ft is not None and ft.method == "qlora" and ft.quant == "nf4" and ft.double_quant
    assert ft.lora_rank == 8 and ft.lora_targets == {"q", "v"}
    t = training_spec(run, 1304)
    assert t.convention == "pure" and t.global_batch_tokens == 128 * 1304
    assert layout_choice(run).micro_batch == 1
    assert finetune_spec(_run("tt-3b-+packed")) is None  # full fine-tuning: pretraining's model


def test_litgpt_lora_and_torchtune_full_memory(checks) -> None:
    # litgpt Llama 2 7B LoRA (q,v r=8, mb 1): 21.30 GB; torchtune Llama 3.2 3B full,
    # packed: 64.42 GiB. Full fine-tuning under 'advisor' states (16 B/param) was 33% high.
    mem = {r.id: r for r in checks.rows if r.metric == "peak_memory_bytes"}
    assert abs(mem["lg-7b-lora-mb1"].error) <= 0.10
    assert abs(mem["tt-3b-+packed"].error) <= 0.10


def test_finetune_medians_hold(checks) -> None:
    # Measured (advisor accuracy, unfitted = out-of-sample): peak memory median |error|
    # 9.7% over 23 rows (napkin 28.8%); tokens/s per device 17.8% over 16 rows (napkin
    # 25.3%). Issue 11 targets: 10% and 20%.
    s = checks.summary
    mem, tps = s["peak_memory_bytes"]["overall"], s["tokens_per_s_per_device"]["overall"]
    assert mem["model"]["n"] >= 20 and tps["model"]["n"] >= 14
    assert mem["model"]["median_abs_error"] <= 0.10
    assert tps["model"]["median_abs_error"] <= 0.19
    assert mem["model"]["median_abs_error"] < mem["napkin"]["median_abs_error"]
    assert tps["model"]["median_abs_error"] < tps["napkin"]["median_abs_error"]
    assert {"lora", "qlora", "full"} <= set(s["peak_memory_bytes"]["by_method"])


def test_every_row_is_checked_or_says_why(checks) -> None:
    checked = {r.id for r in checks.rows}
    ids = {r.id for r in load_finetune_runs()}
    assert ids == checked | set(checks.not_checked)
    assert all(checks.not_checked.values())


def test_accuracy_json_has_the_finetune_section(cli) -> None:
    r = cli("accuracy", "--json")
    assert r.code == 0, r.err
    ft = json.loads(r.out)["finetune"]
    assert ft["fitted"] is False and ft["checks"] and ft["not_checked"]
    assert set(ft["targets"]) == {"peak_memory_bytes", "tokens_per_s_per_device"}
    assert ft["targets"]["peak_memory_bytes"]["target_median_abs_error"] == 0.10
    row = ft["checks"][0]
    assert {"measured", "predicted", "error", "napkin", "napkin_error", "method"} <= set(row)
    assert {"by_source", "by_method"} <= set(ft["summary"]["peak_memory_bytes"])
    human = cli("accuracy")
    assert "Fine-tuning rows" in human.out and "fine-tuning rows not checked" in human.out
