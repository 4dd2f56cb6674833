"""The `estimate --json` document of one scored plan, and what it rests on.

The memory the model's accounting leaves out (framework overhead, allocator slack),
and `describe()`, which turns plan `i` of a scored search into the output document
(the design's JSON contract, advisor/estimate_out.py) with its assumptions.
advisor/estimate.py runs the search; recommend and the report describe their options
through here.
"""

from __future__ import annotations

from typing import Any

from advisor.cost import DEFAULT_GRID_KG_PER_KWH, run_cost
from advisor.estimate_out import EstimateOut, MemoryOut, PlanOut
from advisor.finetune.params import trainable_params
from advisor.finetune.spec import FinetuneSpec
from advisor.fitted import prediction_range
from advisor.goodput import GoodputSettings
from advisor.goodput_out import run_goodput, whole_run_fields
from advisor.hardware import Hardware
from advisor.layout import (
    TIE_TOLERANCE,
)
from advisor.model.device import DeviceModel
from advisor.model.flops import flops_report
from advisor.model.memory import GIB
from advisor.model.offload import offload_fields, offload_notes
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.search import Scored, plan_fields
from advisor.stacks import StackConventions

# Assumption, not a measurement: CUDA context, cuBLAS/NCCL workspaces and allocator
# fragmentation on a GPU. `advisor validate` measures the real figure on a device.
GPU_OVERHEAD_BYTES = 1.0 * GIB
CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022, Table 3 (~20 tokens/parameter)


def overhead_bytes(hw: Hardware) -> tuple[float, str | None]:
    """Memory outside the model's accounting: measured (profile) or the GPU assumption."""
    prof = hw.profile
    if prof is not None and prof.framework_overhead_gb is not None:
        return prof.framework_overhead_gb.value * 1e9, None
    if hw.accelerator.kind == "cpu":
        return 0.0, None
    return GPU_OVERHEAD_BYTES, (
        "1 GiB per device for CUDA context, library workspaces and fragmentation "
        "(an assumption; measure with 'advisor validate')"
    )


def allocator_slack(hw: Hardware, finetune: FinetuneSpec | None = None) -> float:
    """The allocator's memory beyond live tensors, as a fraction: measured (profile) or 0.
    LoRA/QLoRA use the profile's LoRA figure where it has one (their layers free
    layer-sized temporaries full training does not)."""
    prof = hw.profile
    if prof is None:
        return 0.0
    if finetune is not None and finetune.adapters and prof.lora_allocator_slack:
        return prof.lora_allocator_slack.value
    return prof.allocator_slack.value if prof.allocator_slack else 0.0


def with_finetune(out: EstimateOut, spec: ModelSpec, ft: FinetuneSpec | None) -> EstimateOut:
    """An estimate document with the fine-tuning method, trainable parameters and what
    the method assumes; unchanged for pretraining (None)."""
    if ft is None:
        return out
    return out.model_copy(
        update={
            "method": ft.method,
            "trainable_params": trainable_params(spec, ft),
            "assumptions": [*out.assumptions, *finetune_notes(ft)],
        }
    )


def finetune_notes(ft: FinetuneSpec) -> list[str]:
    """What a fine-tuning estimate assumes, said beside it."""
    notes = [f"fine-tuning: {ft.describe()}"]
    if not ft.adapters:
        return notes
    notes += [
        "memory: weights = base_weights + quant_constants + adapters; gradients and "
        "optimizer are the adapters' (the frozen base has none)",
        "activations store every linear layer's input as in full training (conservative "
        "when only some layers are adapted) plus each adapter's x·A",
        "MFU and HFU count full training's FLOPs (6 per parameter and token); a frozen base "
        "skips its weight gradients, so they read high",
    ]
    if ft.quantized:
        notes.append(
            "one linear layer's dequantized 16-bit copy is under 'other'; the quantized "
            "base assumes bitsandbytes on a CUDA GPU"
        )
    if ft.quant == "int8":
        notes.append("int8 base: 1 byte per weight and one fp32 scale per row (an assumption)")
    if ft.paged_optimizer:
        notes.append("paged optimizer: the same bytes on the device; spikes page to host memory")
    return notes


def describe(
    spec: ModelSpec,
    training: TrainingSpec,
    hw: Hardware,
    dev: DeviceModel,
    scored: Scored,
    i: int,
    tokens: float,
    pricing: str = "on-demand",
    grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH,
    stack: StackConventions | None = None,
    finetune: FinetuneSpec | None = None,
    goodput: GoodputSettings | None = None,
) -> EstimateOut:
    """The estimate document for plan `i` of a scored search (`finetune`: the method
    scored, for the allocator slack it used; `goodput`: whole-run settings, None the
    defaults: time, device-hours, cost and energy are wall-clock figures)."""
    counts = count_params(spec)
    fields = plan_fields(scored.plans, i)
    rec = fields["recompute"]
    step = float(scored.step_time[i])
    step_tokens = float(scored.tokens_per_step[i])
    tps = float(scored.tokens_per_s[i])
    fr = flops_report(spec, rec, step_tokens, tokens)
    steady_time = tokens / tps
    whole = run_goodput(goodput, hw, pricing, counts.total, steady_time, step)
    time_to_train = whole.goodput.wall_s
    money = run_cost(hw, time_to_train, pricing, grid_kg_per_kwh)
    cost = money.cost_usd * whole.cost_factor if money.cost_usd is not None else None
    _, overhead_note = overhead_bytes(hw)
    breakdown = scored.time.breakdown(i)
    fits = bool(scored.fits[i]) if hw.memory_bytes else None
    assumptions = [
        *spec.notes,
        *offload_notes(scored, hw, i),
        "model FLOPs count attention over the full s x s square (PaLM / Megatron convention)",
        *(stack.notes() if stack else []),
        f"model states use the '{training.convention}' convention "
        f"({training.precision}, {training.optimizer})",
        *dev.assumptions,
        *money.notes,
        *whole.notes,
    ]
    if overhead_note:
        assumptions.append(overhead_note)
    if allocator_slack(hw, finetune):
        assumptions.append(
            f"allocator holds {allocator_slack(hw, finetune):.0%} beyond the live tensors "
            "(measured; under 'other')"
        )
    if hw.memory_bytes:
        assumptions += selection_notes(scored, i)
    if hw.offering is None and hw.devices > hw.devices_per_node:
        assumptions.append(f"devices grouped in nodes of {hw.devices_per_node}")
    if hw.network_note and hw.devices > hw.devices_per_node:
        assumptions.append(hw.network_note)
    if hw.domain_note:
        assumptions.append(hw.domain_note)
    peak = dev.peak(training.precision)
    peak_dtype = peak_precision(dev.peak_flops, training.precision, peak)
    assumptions.append(
        f"MFU and HFU are against the dense {peak_dtype} peak, "
        f"{peak / 1e12:,.0f} TFLOP/s per device"
    )
    return EstimateOut(
        model=spec.model_dump(exclude_none=True, exclude={"notes"}),
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
            "peak_per_device": peak,
        },
        memory_per_device_bytes=MemoryOut(
            weights=float(scored.weights[i]),
            gradients=float(scored.gradients[i]),
            optimizer=float(scored.optimizer[i]),
            activations=float(scored.activations[i]),
            other=float(scored.other[i]),
            total=float(scored.memory_total[i]),
            **{
                k: float(getattr(scored, k)[i])
                for k in ("base_weights", "quant_constants", "adapters")
                if getattr(scored, k) is not None
            },
        ),
        memory_capacity_bytes=hw.memory_bytes,
        fits=fits,
        plan=PlanOut(
            **fields,
            precision=training.precision,
            stage_layers=stage_layers(spec.layers, fields["pp"]),
        ),
        step_time_s=step,
        breakdown_s=breakdown,
        tokens_per_s=tps,
        tokens_per_s_per_device=tps / hw.devices,
        achieved_tflops_per_device=fr.model_per_token * tps / hw.devices / 1e12,
        mfu=float(scored.mfu[i]),
        hfu=float(scored.hfu[i]),
        mfu_peak_precision=peak_dtype,
        time_to_train_s=time_to_train,
        steady_time_to_train_s=steady_time,
        **whole_run_fields(whole, tps / hw.devices),
        device_hours=time_to_train * hw.devices / 3600.0,
        price_per_hour_usd=money.price_per_hour_usd,
        cost_usd=cost,
        wall_time_s=money.wall_time_s,
        billed_hours=money.billed_hours if money.cost_usd is not None else None,
        energy_kwh=money.energy_kwh,
        emissions_kg_co2e=money.emissions_kg,
        range=prediction_range(
            hw.accelerator.id,
            step,
            tps / hw.devices,
            float(scored.mfu[i]),
            time_to_train,
            cost,
            dev.stack,
        ),
        chosen=[],
        stack=stack.as_dict() if stack else None,
        plans_considered=len(scored.plans),
        assumptions=assumptions,
        **offload_fields(scored, hw, i),
    )


def stage_layers(layers: int, pp: int) -> list[int]:
    """Layers per pipeline stage: the L mod p first stages take ceil(L/p), the rest
    floor(L/p) (advisor/model/parallel.py)."""
    r = layers % pp
    return [layers // pp + (1 if k < r else 0) for k in range(pp)]


def _layout(fields: dict[str, Any]) -> str:
    f = fields
    return (
        f"tp {f['tp']} pp {f['pp']} cp {f.get('cp', 1)} vpp {f['vpp']} zero {f['zero']} "
        f"micro-batch {f['micro_batch']} recompute {f['recompute']}"
    )


def selection_notes(scored: Scored, i: int) -> list[str]:
    """What the choice of plan `i` assumed: the memory headroom it keeps (or could not),
    and, when a simpler plan was preferred to the fastest, which and at what cost."""
    h = scored.headroom
    notes = [
        f"layouts must leave {h:.0%} of device memory free (--memory-headroom): allocator "
        "fragmentation and the memory model's own error are not in the accounting"
        if h > 0
        else "no memory headroom kept (--memory-headroom 0): a layout may fill the device"
    ]
    if not scored.fits[i]:
        return notes
    if scored.roomy is not None and not scored.roomy[i]:
        notes.append(f"no layout leaves {h:.0%} of device memory free; this one fits without")
    j = scored.fastest(i)
    if j is not None and j != i:
        slower = float(scored.per_token[i] / scored.per_token[j]) - 1.0
        notes.append(
            f"preferred a simpler layout to the fastest ({_layout(plan_fields(scored.plans, j))}),"
            f" {slower:.1%} slower: plans within {TIE_TOLERANCE:.0%} of the fastest count as "
            "tied (below the model's error), and the simplest wins (lower ZeRO stage, fewer "
            "parallel dimensions, smaller micro-batch, less recomputation)"
        )
    return notes


def peak_precision(peaks: dict[str, float], precision: str, peak: float) -> str:
    """The dtype whose peak `DeviceModel.peak` returned: fp8 MFU is against the fp8 peak,
    fp32 may use TF32's, bf16 may fall back to fp16's; say which."""
    if peaks.get(precision) == peak:
        return precision
    return next((k for k, v in peaks.items() if v == peak), precision)


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
    if hw.node_network_gbs is not None:
        out["node_network_gbs"] = hw.node_network_gbs
    return out
