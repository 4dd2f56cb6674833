"""The model's prediction of one published fine-tuning row (advisor/finetune_runs.py):
its peak memory per device and tokens/s per device, as `advisor estimate` computes them.

FinetuneRun -> FinetuneSpec + TrainingSpec + Hardware + LayoutChoice -> the search of
advisor/estimate.py (`search_hardware`) under the row's stack. Layout fields the row
prints are fixed; the rest are searched and the fastest plan that fits is taken, with
no tie tolerance and no headroom (published runs were tuned, as for pretraining:
advisor/crossval.py `base_prediction`). Nothing is fitted on these rows: the device
efficiencies and the stack factor come from the catalog and the pretraining fit
(advisor/data/stack_fit.yaml), so every figure is out-of-sample.

How a row's settings map to the project's conventions (`mapping_notes` says it per row):
- pure_bf16 (litgpt `bf16-true`, torchtune `dtype: bf16`): weights, gradients and
  optimizer moments in bf16, no fp32 master: the 'pure' convention (2 + 2 + 4 B/param
  with AdamW, advisor/model/memory.py `state_bytes`).
- otherwise 'advisor' (FSDP-like mixed precision: fp32 master and moments; adapters
  keep no master, advisor/finetune/memory.py).
- paged optimizers: the same bytes on the device (FinetuneSpec.paged_optimizer).
- optimizer_in_backward (torchtune): each parameter steps during backward, so no full
  set of gradients is ever alive; approximated as the same gradient bytes (an
  over-count of at most the trainable parameters' gradients).
- an unstated recomputation is 'none' (as for the pretraining rows); an unstated
  global batch is the micro-batch on every device (no accumulation; throughput rows
  always print it).
- adapters on a fused QKV projection and on the output head: advisor adapts the
  separate q, k, v (same values per token within r·(h+q+2kv) vs r·(3h+q+2kv)
  parameters); the output head's adapter is left out (a few MB).
"""

from __future__ import annotations

from typing import Any

from advisor.catalog import Catalog, load_catalog
from advisor.estimate import search_hardware
from advisor.finetune.spec import FinetuneSpec
from advisor.finetune_runs import FinetuneRun
from advisor.hardware import resolve_hardware
from advisor.layout import LayoutChoice
from advisor.model.spec import TrainingSpec
from advisor.search import plan_fields
from advisor.stacks import for_accelerator, resolve


def finetune_spec(run: FinetuneRun) -> FinetuneSpec | None:
    """The row's method as advisor models it; None for full fine-tuning."""
    if run.method == "full" or run.method is None:
        return None
    assert run.lora_rank is not None and run.lora_targets is not None
    quant = run.quant if run.quant in ("int8", "nf4") else "none"
    return FinetuneSpec(
        method="qlora" if quant != "none" else "lora",
        lora_rank=run.lora_rank,
        lora_targets=frozenset(run.lora_targets),
        quant=quant,
        double_quant=bool(run.double_quant) if quant == "nf4" else None,
        paged_optimizer=run.optimizer_paged,
    )


def training_spec(run: FinetuneRun, seq_len: int) -> TrainingSpec:
    """Precision, optimizer, recomputation and the global batch in tokens."""
    devices = run.devices or 1
    seqs = run.global_batch or (run.micro_batch or 1) * devices
    return TrainingSpec(
        precision=run.precision or "bf16",
        optimizer=run.optimizer or "adamw",
        recompute=run.recompute,
        global_batch_tokens=float(seqs * seq_len),
        convention="pure" if run.pure_bf16 else "advisor",
    )


def layout_choice(run: FinetuneRun) -> LayoutChoice:
    lay = run.layout
    return LayoutChoice(
        tp=lay.get("tp"),
        pp=lay.get("pp"),
        cp=lay.get("cp"),
        zero=lay.get("zero"),
        micro_batch=run.micro_batch,
        recompute=run.recompute,
    )


def predict_one(
    run: FinetuneRun, seq_len: int, catalog: Catalog
) -> tuple[float, float, dict[str, Any]]:
    """(peak memory bytes, tokens/s per device, plan) of the fastest plan that fits, at
    `seq_len` tokens per sequence; the least-memory plan when none fits."""
    assert run.spec is not None and run.accelerator and run.devices
    spec = run.spec.model_copy(update={"seq_len": seq_len})
    hw = resolve_hardware(catalog, run.accelerator, run.devices, None, None)
    stack = for_accelerator(catalog, resolve(catalog, run.stack), hw.accelerator.id)
    training = training_spec(run, seq_len)
    batch = training.global_batch_tokens or 0.0
    scored, _ = search_hardware(
        spec, training, hw, layout_choice(run), batch, catalog, 0.0, stack, finetune_spec(run)
    )
    i = scored.best(keep_headroom=False, tolerance=0.0)
    if i is None:
        i = int(scored.memory_total.argmin())
    tps = float(scored.tokens_per_s[i] / scored.devices[i])
    return float(scored.memory_total[i]), tps, plan_fields(scored.plans, i)


def predict(run: FinetuneRun, catalog: Catalog | None = None) -> tuple[float | None, float | None]:
    """(peak memory bytes per device, tokens/s per device): memory at the length that
    sets the peak, throughput at the length every batch fills (None where unknown)."""
    catalog = catalog or load_catalog()
    mem = tps = None
    if run.seq_len_memory:
        mem, tps_at_mem, _ = predict_one(run, run.seq_len_memory, catalog)
        if run.seq_len == run.seq_len_memory:
            tps = tps_at_mem
    if tps is None and run.seq_len:
        _, tps, _ = predict_one(run, run.seq_len, catalog)
    return mem, tps


def mapping_notes(run: FinetuneRun) -> list[str]:
    """What the prediction approximates for this row."""
    notes = []
    if run.pure_bf16:
        notes.append("pure bf16: bf16 weights, gradients and moments, no fp32 master")
    if run.optimizer_in_backward:
        notes.append("optimizer in backward: gradients counted as if all were alive")
    if run.lora_fused_qkv:
        notes.append("fused QKV adapter modelled as separate q, k, v adapters")
    if run.lora_extra:
        notes.append(f"adapters on {', '.join(run.lora_extra)} left out")
    if not run.recompute_stated:
        notes.append("recomputation not stated: none")
    if run.optimizer_assumed:
        notes.append(f"optimizer assumed: {run.optimizer}")
    return notes
