"""The output models of `advisor estimate --json` (the design's JSON contract): the plan,
its memory per device and the whole estimate document; advisor/describe.py fills them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from advisor.goodput_out import CheckpointOut, GoodputOut


class PlanOut(BaseModel):
    dp: int
    tp: int
    pp: int
    cp: int = 1
    ep: int = 1
    vpp: int
    sp: bool
    zero: int
    micro_batch: int
    grad_accum: int
    recompute: str
    precision: str
    stage_layers: list[int] = Field(
        default_factory=list,
        description="Layers on each pipeline stage, first to last (uneven where p does "
        "not divide the layers: ceil(L/p) first, the last stage lighter).",
    )


class MemoryOut(BaseModel):
    """Bytes per device. total = weights + gradients + optimizer + activations + other.
    LoRA/QLoRA add the parts of `weights`: base_weights + quant_constants + adapters =
    weights; gradients and optimizer are then the adapters' (advisor/finetune/memory.py)."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    other: float
    total: float
    base_weights: float | None = None
    quant_constants: float | None = None
    adapters: float | None = None


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
    step_time_s: float
    breakdown_s: dict[str, float]
    tokens_per_s: float
    tokens_per_s_per_device: float
    achieved_tflops_per_device: float
    mfu: float
    hfu: float
    mfu_peak_precision: str | None = Field(
        default=None, description="The dtype whose dense peak MFU and HFU divide by."
    )
    time_to_train_s: float = Field(description="Wall clock: steady time / goodput.")
    steady_time_to_train_s: float | None = Field(
        default=None, description="Failure-free steady-state time (tokens / tokens_per_s)."
    )
    wall_tokens_per_s_per_device: float | None = Field(
        default=None, description="tokens_per_s_per_device x goodput (advisor/goodput.py)."
    )
    goodput: GoodputOut | None = None
    checkpoint: CheckpointOut | None = None
    expected_interruptions: dict[str, float] | None = None
    device_hours: float
    price_per_hour_usd: float | None = None
    cost_usd: float | None = None
    wall_time_s: float | None = None  # time to train + the rental's provisioning
    billed_hours: float | None = None  # per node, under the offering's rental terms
    energy_kwh: float | None = None
    emissions_kg_co2e: float | None = None
    range: dict[str, Any] | None = Field(
        default=None,
        description="10th-90th percentile of each figure from the cross-validated error on "
        "comparable published runs (advisor/fitted.py), with the rows it came from.",
    )
    chosen: list[str] = Field(description="Layout fields advisor chose because they were left out.")
    stack: dict[str, Any] | None = Field(
        default=None, description="The software stack and the conventions applied."
    )
    plans_considered: int
    assumptions: list[str]
    method: str | None = Field(default=None, description="full, lora or qlora (fine-tuning).")
    trainable_params: int | None = Field(
        default=None, description="Parameters the optimizer updates (fine-tuning)."
    )
    offload: str | None = Field(default=None, description="CPU offload: optimizer or params.")
    host_memory_bytes: float | None = Field(
        default=None, description="Host memory per node the offloaded states need."
    )
    offload_s: dict[str, float] | None = Field(
        default=None, description="Per step: host-device transfers and the CPU optimizer step."
    )
    what_would_fit: list[dict[str, Any]] | None = Field(
        default=None, description="When it does not fit: changes that would (what_fits.py)."
    )
