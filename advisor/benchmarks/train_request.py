"""What the `python -m advisor.benchmarks.train_step` subprocess is asked to measure
(optionally with LoRA adapters) and what it reports back (step time, peak memory)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from advisor.benchmarks.record import GPTShape, Record, Stats

# The precisions the training-step benchmarks (overhead, allocator, lora) and `advisor
# validate` train, each where the device runs it (training.autocast_supported); advisor
# calibrate fits the step model's efficiency for each.
STEP_PRECISIONS = ("fp32", "bf16-autocast")


class LoraRequest(Record):
    """LoRA adapters on the small GPT (advisor/benchmarks/lora_model.py): frozen base weights."""

    rank: int = Field(default=8, ge=1)
    alpha: float = Field(default=16.0, gt=0, description="Scale alpha/rank on B·A.")
    targets: list[str] = Field(
        default_factory=lambda: ["q", "k", "v", "o", "up", "down"],
        description="advisor's names: q, k, v, o, up, down (a GELU MLP has no gate).",
    )
    impl: Literal["auto", "peft", "torch"] = Field(
        default="torch", description="auto: PEFT where installed, else plain torch."
    )


class TrainRequest(Record):
    """What `python -m advisor.benchmarks.train_step` is asked to measure."""

    model: GPTShape
    precision: Literal["fp32", "bf16-autocast", "fp16-autocast"] = "fp32"
    device: str = "cpu"
    steps: int = Field(default=5, ge=1)
    warmup: int = Field(default=2, ge=1, description="The first step allocates AdamW state.")
    threads: int | None = None
    seed: int = 0
    live_peak: bool = Field(
        default=False,
        description="CPU: after the timed steps, profile one more step for its peak live "
        "tensor bytes (`peak_allocated_bytes`).",
    )
    lora: LoraRequest | None = Field(
        default=None, description="Train LoRA adapters on a frozen base instead of every weight."
    )


class TrainMeasurement(Record):
    """Step time and peak memory of real training steps in a fresh process.

    Memory is what the process needed beyond its state right after `import
    torch`: on CPU the peak resident set (VmHWM, reset after import) minus the
    resident set then; on CUDA the caching allocator's peak reserved bytes plus
    the CUDA context (device memory in use at the end minus reserved), with
    the allocator's peak allocated bytes beside it.
    """

    request: TrainRequest
    params: int
    tokens: int
    time: Stats
    baseline_bytes: float = Field(description="Memory in use after import torch.")
    peak_bytes: float = Field(description="Peak memory during training, above baseline.")
    peak_method: str
    peak_allocated_bytes: float | None = Field(
        default=None,
        description="Peak live tensor bytes: CUDA torch.cuda.max_memory_allocated; CPU (with "
        "live_peak) the profiler's allocation events over one step.",
    )
    threads: int | None = None
    trainable_params: int | None = Field(default=None, description="With LoRA: the adapters'.")
    lora_impl: Literal["peft", "torch"] | None = None
    loss_first: float
    loss_last: float
