"""Score one layout: FLOPs, memory, step time, throughput, time to train and cost.

`estimate()` is the library entry point behind `advisor estimate`. Layout fields
the user leaves out are chosen by the search: the fastest plan that fits (or, when
none fits, the one needing least memory, reported with `fits: false`).
"""

from __future__ import annotations

from advisor.catalog import Catalog, load_catalog
from advisor.cost import DEFAULT_GRID_KG_PER_KWH
from advisor.describe import (  # the document and its helpers, re-exported for callers
    CHINCHILLA_TOKENS_PER_PARAM,
    EstimateOut,
    allocator_slack,
    describe,
    overhead_bytes,
    with_finetune,
)
from advisor.errors import UsageError
from advisor.finetune.spec import FinetuneSpec, check_quant_support
from advisor.fitted_moe import moe_factor_note, with_moe_factor, with_moe_range
from advisor.goodput import GoodputSettings
from advisor.hardware import Hardware
from advisor.layout import (
    DEFAULT_MEMORY_HEADROOM,
    LayoutChoice,
    batch_notes,
    check_layout,
    default_batch_tokens,
)
from advisor.model.device import DeviceModel, device_model
from advisor.model.moe_notes import check_moe_layout, moe_assumptions
from advisor.model.offload import host_path
from advisor.model.params import count_params
from advisor.model.plans import Plans
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.search import Scored, enumerate_plans, score
from advisor.stacks import StackConventions, apply_efficiency, for_accelerator, resolve


def hardware_device(catalog: Catalog, hw: Hardware, stack: str = "auto") -> DeviceModel:
    """The device model of this hardware, with the time factor fitted for the stack."""
    return device_model(
        catalog,
        hw.accelerator,
        hw.profile,
        hw.offering,
        hw.devices_per_node,
        hw.node_network_gbs,
        stack=stack,
    )


def search_hardware(
    spec: ModelSpec,
    training: TrainingSpec,
    hw: Hardware,
    choice: LayoutChoice,
    batch_tokens: float,
    catalog: Catalog | None = None,
    headroom: float = DEFAULT_MEMORY_HEADROOM,
    stack: StackConventions | None = None,
    finetune: FinetuneSpec | None = None,
    offload: str = "none",
) -> tuple[Scored, DeviceModel]:
    """Score every plan the choice allows on this hardware, under the stack's conventions
    (`finetune`: LoRA/QLoRA, advisor/finetune/; `offload`: advisor/model/offload.py)."""
    check_quant_support(hw.accelerator, finetune)
    catalog = catalog or load_catalog()
    stack = stack or resolve(catalog, None)
    dev = with_moe_factor(apply_efficiency(hardware_device(catalog, hw, stack.id), stack), spec)
    kw = {"flash_attention": stack.flash_attention, "zero_stages": stack.zero_stages}
    plans = enumerate_plans(spec, [hw.devices], hw.devices_per_node, batch_tokens, choice, **kw)
    if len(plans) == 0 and len(
        enumerate_plans(spec, [hw.devices], hw.devices_per_node, 1e15, choice, **kw)
    ):
        raise UsageError(
            f"the global batch of {batch_tokens:,.0f} tokens has fewer sequences of "
            f"{spec.seq_len} than {hw.devices} device(s) need data-parallel replicas with "
            "these layout flags: the batch limits scale; raise --global-batch-tokens, use fewer "
            "devices, or more --tp/--pp/--cp"
        )
    if len(plans) == 0:
        raise UsageError(
            f"no layout of {spec.name} on {hw.devices} device(s) agrees with the layout "
            "flags given; loosen one of them"
        )
    scored = score_on_hardware(
        spec, training, plans, dev, hw, stack, catalog, headroom, finetune, offload
    )
    return scored, dev


def score_on_hardware(
    spec: ModelSpec,
    training: TrainingSpec,
    plans: Plans,
    dev: DeviceModel,
    hw: Hardware,
    stack: StackConventions,
    catalog: Catalog,
    headroom: float,
    finetune: FinetuneSpec | None,
    offload: str,
) -> Scored:
    """`score` with what the hardware and the stack fix: device memory, the framework's
    overhead and the allocator's slack on it, the stack's attention and overlap
    conventions, and the host path offload uses (estimate and recommend alike)."""
    overhead, _ = overhead_bytes(hw)
    host = None
    if offload != "none":
        host = host_path(catalog, hw.accelerator, hw.offering, hw.devices_per_node)
    return score(
        spec,
        training,
        plans,
        dev,
        hw.memory_bytes or 0.0,
        overhead,
        allocator_slack=allocator_slack(hw, finetune),
        headroom=headroom,
        flash_attention=stack.flash_attention,
        dp_overlap=stack.dp_overlap,
        tp_overlap=stack.tp_overlap,
        finetune=finetune,
        offload_mode=offload,
        host=host,
    )


def estimate(
    spec: ModelSpec,
    training: TrainingSpec,
    hw: Hardware,
    choice: LayoutChoice,
    pricing: str = "on-demand",
    grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH,
    catalog: Catalog | None = None,
    memory_headroom: float = DEFAULT_MEMORY_HEADROOM,
    stack: StackConventions | None = None,
    finetune: FinetuneSpec | None = None,
    offload: str = "none",
    goodput: GoodputSettings | None = None,
) -> EstimateOut:
    """Everything about one job on one hardware; unset layout fields are searched under
    the software stack's conventions (default: 'auto'). `finetune` (advisor/finetune/):
    full, LoRA or QLoRA; None is pretraining, unchanged. `goodput` (advisor/goodput.py):
    whole-run settings; None: the sourced defaults."""
    catalog = catalog or load_catalog()
    stack = for_accelerator(catalog, stack or resolve(catalog, None), hw.accelerator.id)
    counts = count_params(spec)
    tokens = training.tokens or CHINCHILLA_TOKENS_PER_PARAM * counts.total
    batch = training.global_batch_tokens or default_batch_tokens(counts.total)
    if choice.tp or choice.pp or choice.cp:
        check_layout(
            spec,
            hw.devices,
            hw.devices_per_node,
            choice.tp or 1,
            choice.pp or 1,
            choice.vpp or 1,
            choice.cp or 1,
        )
    check_moe_layout(spec, hw.devices, choice)
    scored, dev = search_hardware(
        spec, training, hw, choice, batch, catalog, memory_headroom, stack, finetune, offload
    )
    i = scored.best()
    if i is None:  # nothing leaves the headroom free: the fastest that fits at all
        i = scored.best(keep_headroom=False)
    if i is None:
        i = int(scored.memory_total.argmin())
    out = describe(
        spec,
        training,
        hw,
        dev,
        scored,
        i,
        tokens,
        pricing,
        grid_kg_per_kwh,
        stack,
        finetune,
        goodput,
    )
    out = with_moe_range(with_finetune(out, spec, finetune), spec)
    assumptions = list(out.assumptions)
    if training.tokens is None:
        assumptions.append(f"tokens = {CHINCHILLA_TOKENS_PER_PARAM} x parameters (Chinchilla)")
        if finetune is not None:
            assumptions.append(
                "that is a pretraining default: give the dataset as --tokens-per-epoch and "
                "--epochs (or --tokens) for fine-tuning"
            )
    assumptions += moe_assumptions(spec, training, counts) + moe_factor_note(spec)
    given = training.global_batch_tokens is not None
    assumptions += batch_notes(batch, out.global_batch_tokens, spec.seq_len, given, counts.total)
    return out.model_copy(
        update={
            "chosen": choice.unset(),
            "plans_considered": len(scored.plans),
            "assumptions": assumptions,
        }
    )
