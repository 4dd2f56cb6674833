"""Score one layout: FLOPs and memory per device (and, with a device profile, time).

`estimate()` is the library entry point behind `advisor estimate`; layout fields
the user leaves out are chosen (see `choose_plan`) and reported as chosen.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from advisor.errors import UsageError
from advisor.hardware import Hardware
from advisor.layout import (
    LayoutChoice,
    candidate_plans,
    check_layout,
    default_batch_tokens,
    grad_accum_for,
)
from advisor.model.flops import flops_report
from advisor.model.memory import GIB, MemoryReport, memory_report
from advisor.model.params import count_params
from advisor.model.spec import RECOMPUTES, ModelSpec, ParallelPlan, Recompute, TrainingSpec

# Assumption, not a measurement: CUDA context, cuBLAS/NCCL workspaces and allocator
# fragmentation on a GPU. `advisor validate` measures the real figure on a device.
GPU_OVERHEAD_BYTES = 1.0 * GIB
CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022, Table 3 (~20 tokens/parameter)


class PlanOut(BaseModel):
    dp: int
    tp: int
    pp: int
    vpp: int
    sp: bool
    zero: int
    micro_batch: int
    grad_accum: int
    recompute: Recompute
    precision: str


class MemoryOut(BaseModel):
    weights: float
    gradients: float
    optimizer: float
    activations: float
    other: float
    total: float


class EstimateOut(BaseModel):
    """The `estimate --json` document (SI units: seconds, bytes, FLOP, USD)."""

    model_config = ConfigDict(extra="forbid")

    model: dict[str, Any]
    hardware: dict[str, Any]
    params: int
    active_params: int
    tokens: float
    global_batch_tokens: float
    flops_per_token: float
    hardware_flops_per_token: float
    flops: dict[str, Any]
    memory_per_device_bytes: MemoryOut
    memory_capacity_bytes: float | None
    fits: bool | None
    plan: PlanOut
    chosen: list[str] = Field(description="Layout fields advisor chose because they were left out.")
    assumptions: list[str]


def _overhead(hw: Hardware) -> tuple[float, str | None]:
    if hw.accelerator.kind == "cpu":
        return 0.0, None
    return GPU_OVERHEAD_BYTES, (
        "1 GiB per device for CUDA context, library workspaces and fragmentation "
        "(an assumption; measure with 'advisor validate')"
    )


def _memory(
    spec: ModelSpec, plan: ParallelPlan, training: TrainingSpec, hw: Hardware
) -> MemoryReport:
    overhead, _ = _overhead(hw)
    return memory_report(spec, plan, training, hw.memory_bytes, overhead)


_REC_RANK = {r: i for i, r in enumerate(RECOMPUTES)}


def choose_plan(
    spec: ModelSpec,
    training: TrainingSpec,
    hw: Hardware,
    choice: LayoutChoice,
    batch_tokens: float,
) -> tuple[ParallelPlan, Recompute]:
    """The layout that fits with the least model parallelism, sharding and recomputation,
    and the largest micro-batch: a memory-only rule, used until a time model ranks plans."""
    best: tuple[tuple[int, ...], ParallelPlan, Recompute] | None = None
    fallback: tuple[float, ParallelPlan, Recompute] | None = None
    for plan, rec in candidate_plans(spec, hw.devices, hw.devices_per_node, choice, batch_tokens):
        mem = _memory(spec, plan, training.model_copy(update={"recompute": rec}), hw)
        key = (plan.pp, plan.tp, _REC_RANK[rec], plan.zero, plan.vpp, -plan.micro_batch)
        if mem.fits:
            if best is None or key < best[0]:
                best = (key, plan, rec)
        elif fallback is None or mem.total < fallback[0]:
            fallback = (mem.total, plan, rec)
    if best is not None:
        return best[1], best[2]
    if fallback is not None:
        return fallback[1], fallback[2]
    raise UsageError("no layout agrees with the layout flags given; loosen one of them")


def estimate(
    spec: ModelSpec,
    training: TrainingSpec,
    hw: Hardware,
    choice: LayoutChoice,
) -> EstimateOut:
    """FLOPs and memory of one job; unset layout fields are chosen."""
    counts = count_params(spec)
    tokens = training.tokens or CHINCHILLA_TOKENS_PER_PARAM * counts.total
    batch = training.global_batch_tokens or default_batch_tokens(counts.total)
    if choice.tp:
        check_layout(
            spec, hw.devices, hw.devices_per_node, choice.tp, choice.pp or 1, choice.vpp or 1
        )
    elif choice.pp:
        check_layout(spec, hw.devices, hw.devices_per_node, 1, choice.pp, choice.vpp or 1)
    chosen = choice.unset()
    if chosen:
        plan, rec = choose_plan(spec, training, hw, choice, batch)
    else:
        assert choice.tp and choice.pp and choice.micro_batch and choice.recompute
        dp = hw.devices // (choice.tp * choice.pp)
        m, _ = grad_accum_for(batch, spec.seq_len, choice.micro_batch, dp)
        plan = ParallelPlan(
            dp=dp,
            tp=choice.tp,
            pp=choice.pp,
            vpp=choice.vpp or 1,
            sp=bool(choice.sp),
            zero=choice.zero or 0,
            micro_batch=choice.micro_batch,
            grad_accum=m,
        )
        rec = choice.recompute
    if plan.zero and plan.dp == 1 and "zero" not in chosen:
        pass  # allowed: the user asked for it, it simply shards over one replica
    training = training.model_copy(update={"recompute": rec})
    _, step_tokens = grad_accum_for(batch, spec.seq_len, plan.micro_batch, plan.dp)
    fr = flops_report(spec, rec, step_tokens, tokens)
    mem = _memory(spec, plan, training, hw)
    _, overhead_note = _overhead(hw)
    assumptions = [
        "model FLOPs count attention over the full s x s square (PaLM / Megatron convention)",
        f"model states use the '{training.convention}' convention "
        f"({training.precision}, {training.optimizer})",
    ]
    if training.tokens is None:
        assumptions.append(f"tokens = {CHINCHILLA_TOKENS_PER_PARAM} x parameters (Chinchilla)")
    if training.global_batch_tokens is None:
        assumptions.append("global batch from GPT-3 Table 2.1 for the nearest model size")
    if overhead_note:
        assumptions.append(overhead_note)
    if hw.offering is None and hw.devices > hw.devices_per_node:
        assumptions.append(f"devices grouped in nodes of {hw.devices_per_node}")
    return EstimateOut(
        model=model_summary(spec),
        hardware=hardware_summary(hw),
        params=counts.total,
        active_params=counts.active,
        tokens=tokens,
        global_batch_tokens=step_tokens,
        flops_per_token=fr.model_per_token,
        hardware_flops_per_token=fr.hardware_per_token,
        flops={
            "forward_per_token": fr.forward_per_token,
            "backward_per_token": fr.backward_per_token,
            "recompute_per_token": fr.recompute_per_token,
            "model_per_step": fr.model_per_step,
            "hardware_per_step": fr.hardware_per_step,
            "total_model": fr.total_model,
            "attention_convention": fr.attention_convention,
        },
        memory_per_device_bytes=MemoryOut(**mem.as_dict()),
        memory_capacity_bytes=mem.capacity,
        fits=mem.fits,
        plan=PlanOut(
            **plan.model_dump(),
            recompute=rec,
            precision=training.precision,
        ),
        chosen=chosen,
        assumptions=assumptions,
    )


def model_summary(spec: ModelSpec) -> dict[str, Any]:
    return spec.model_dump(exclude_none=True)


def hardware_summary(hw: Hardware) -> dict[str, Any]:
    out: dict[str, Any] = {
        "accelerator": hw.accelerator.id,
        "name": hw.accelerator.name,
        "devices": hw.devices,
        "devices_per_node": hw.devices_per_node,
        "nodes": hw.nodes,
        "memory_per_device_bytes": hw.memory_bytes,
    }
    if hw.offering:
        out["offering"] = hw.offering.id
        out["provider"] = hw.offering.provider
    if hw.profile:
        out["profile"] = hw.profile.id
    return out
