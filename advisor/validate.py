"""Train small GPTs for real on the local device and compare with the model's predictions.

Each configuration (a `GPTShape` and a precision) is trained for a few steps
in a fresh process (advisor/benchmarks/train_step.py), which reports the median step
time and the peak memory above `import torch`. The same shape, written as a
`ModelSpec` that matches what advisor/benchmarks/gpt.py builds, goes through
`advisor.estimate.estimate` with the calibrated profile on one device, one
micro-batch per step, no parallelism and no recomputation. Error is
(predicted - measured) / measured.

Precisions: fp32, and bf16 under torch.autocast where the device supports it
(predicted as advisor's `bf16` under the `amp` convention: fp32 weights,
gradients and residual stream, autocast's weight casts, the unfused loss).
Torch is only imported by the training workers, never here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from advisor.benchmarks.results import GPTShape, LoraRequest, TrainMeasurement, TrainRequest
from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile
from advisor.errors import DataError
from advisor.model.spec import ModelSpec, TrainingSpec

PRECISIONS = {"fp32": "fp32", "bf16-autocast": "bf16"}  # torch recipe -> advisor precision


def _shape(
    name: str, layers: int, hidden: int, heads: int, vocab: int, seq: int, b: int
) -> GPTShape:
    return GPTShape(
        name=name, layers=layers, hidden=hidden, heads=heads, vocab=vocab, seq_len=seq, batch=b
    )


CPU_CONFIGS = [
    _shape("gpt-2L-128", 2, 128, 4, 2048, 128, 4),
    _shape("gpt-4L-256", 4, 256, 4, 4096, 256, 4),
    _shape("gpt-6L-384", 6, 384, 6, 8192, 256, 8),
    _shape("gpt-8L-512", 8, 512, 8, 8192, 512, 8),
]
GPU_CONFIGS = [
    _shape("gpt-6L-512", 6, 512, 8, 32768, 1024, 8),
    _shape("gpt-12L-768", 12, 768, 12, 50304, 1024, 8),
    _shape("gpt-24L-1024", 24, 1024, 16, 50304, 1024, 8),
    _shape("gpt-24L-2048", 24, 2048, 16, 50304, 2048, 4),
]


METHODS = ("full", "lora", "qlora")
# LoRA as validate trains it: rank 8 on every linear layer of a block (the GELU MLP has
# no gate), alpha 16; predicted with the same FinetuneSpec.
LORA_RANK = 8
LORA_TARGETS = ["q", "k", "v", "o", "up", "down"]
QLORA_SKIP = (
    "qlora: skipped: bitsandbytes 4-bit (NF4) needs CUDA; a plain-torch stand-in would "
    "not be the scheme advisor predicts"
)


class ValidationRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: str
    method: str = Field(default="full", description="full, or lora (frozen base, adapters).")
    precision: str
    params: int
    tokens_per_step: int
    predicted_step_s: float | None
    measured_step_s: float
    step_error: float | None
    predicted_memory_bytes: float
    measured_memory_bytes: float
    memory_error: float
    predicted_memory: dict[str, float] = Field(description="The estimate's memory parts.")
    measurement: TrainMeasurement


# Issue 4, item 5: "step time and peak memory within 15% of measured for each configuration".
STEP_TOLERANCE = 0.15
MEMORY_TOLERANCE = 0.15


class ErrorSummary(BaseModel):
    """How far one predicted quantity is from the measurements, against a tolerance."""

    model_config = ConfigDict(extra="forbid")

    quantity: str = Field(description="'step_time' or 'peak_memory'.")
    tolerance: float = Field(description="Largest |relative error| that passes, per row.")
    rows: int = Field(description="Rows with a prediction to compare.")
    within: int = Field(description="Rows whose |error| <= tolerance.")
    mean_abs_error: float | None
    max_abs_error: float | None
    worst: str | None = Field(description="The configuration and precision of the max error.")
    passed: bool | None = Field(description="Every row within tolerance; None with no rows.")


def summarize_errors(
    quantity: str, errors: list[tuple[str, float | None]], tolerance: float
) -> ErrorSummary:
    """Mean and max |relative error| over the rows that have a prediction, and the verdict."""
    known = [(name, abs(e)) for name, e in errors if e is not None]
    if not known:
        return ErrorSummary(
            quantity=quantity,
            tolerance=tolerance,
            rows=0,
            within=0,
            mean_abs_error=None,
            max_abs_error=None,
            worst=None,
            passed=None,
        )
    worst, worst_err = max(known, key=lambda k: k[1])
    within = sum(e <= tolerance for _, e in known)
    return ErrorSummary(
        quantity=quantity,
        tolerance=tolerance,
        rows=len(known),
        within=within,
        mean_abs_error=sum(e for _, e in known) / len(known),
        max_abs_error=worst_err,
        worst=worst,
        passed=within == len(known),
    )


class ValidationReport(BaseModel):
    """What `advisor validate --out` writes."""

    model_config = ConfigDict(extra="forbid")

    tool: str = "advisor validate"
    created: dt.datetime
    profile: str
    accelerator: str
    device: str
    quick: bool
    framework_overhead_gb: float | None = Field(
        default=None,
        description="Peak memory of a tiny training process above import torch, minus its "
        "tensors (the same probe as the 'overhead' benchmark), GB.",
    )
    profile_framework_overhead_gb: float | None = None
    methods: list[str] = Field(default_factory=lambda: ["full"])
    skipped: dict[str, str] = Field(
        default_factory=dict, description="Methods asked for but not run here, and why."
    )
    rows: list[ValidationRow]
    summary: list[ErrorSummary] = Field(
        default_factory=list, description="Step time and peak memory against their tolerances."
    )
    passed: bool | None = Field(
        default=None, description="Every summarised quantity passed (None: nothing to judge)."
    )
    notes: list[str] = Field(default_factory=list)


def model_spec(shape: GPTShape) -> ModelSpec:
    """The ModelSpec of advisor/benchmarks/gpt.py's GPT (nanoGPT layout, tied output layer)."""
    return ModelSpec(
        name=shape.name,
        layers=shape.layers,
        hidden=shape.hidden,
        heads=shape.heads,
        vocab=shape.vocab,
        seq_len=shape.seq_len,
        mlp="gelu",
        norm="layernorm",
        linear_bias=True,
        position="learned",
        tied_embeddings=True,
        dropout=False,
    )


def lora_request() -> LoraRequest:
    return LoraRequest(rank=LORA_RANK, targets=LORA_TARGETS, impl="torch")


def finetune_for(method: str) -> Any:
    """The FinetuneSpec advisor predicts a method with (None: full training)."""
    from advisor.finetune import FinetuneSpec

    if method == "full":
        return None
    return FinetuneSpec(method="lora", lora_rank=LORA_RANK, lora_targets=LORA_TARGETS)


def qlora_skip_reason(device: str) -> str | None:
    """Why QLoRA is not trained here (None where it would be)."""
    if device != "cuda":
        return QLORA_SKIP
    return "qlora: skipped: validate does not train a bitsandbytes NF4 base yet"


def predict(shape: GPTShape, precision: str, hw: Any, method: str = "full") -> Any:
    """The estimate for one device, one micro-batch of `shape.batch`, AdamW, no recompute."""
    from advisor.estimate import estimate
    from advisor.layout import LayoutChoice

    tokens = shape.batch * shape.seq_len
    training = TrainingSpec(
        tokens=float(tokens),
        global_batch_tokens=float(tokens),
        precision=PRECISIONS[precision],  # type: ignore[arg-type]
        optimizer="adamw",
        recompute="none",
        convention="amp",  # the torch.amp recipe advisor/benchmarks/training.py follows
    )
    choice = LayoutChoice(
        tp=1, pp=1, vpp=1, sp=False, zero=0, micro_batch=shape.batch, recompute="none"
    )
    return estimate(model_spec(shape), training, hw, choice, finetune=finetune_for(method))


def hardware(catalog: Catalog, profile: DeviceProfile) -> Any:
    from advisor.hardware import resolve_hardware

    return resolve_hardware(catalog, profile.accelerator, 1, None, None, profile)


def device_for(profile: DeviceProfile, device: str | None) -> str:
    if device and device != "auto":
        return device
    return "cpu" if profile.accelerator == "cpu" else "cuda"


def configs(device: str, quick: bool) -> list[GPTShape]:
    chosen = CPU_CONFIGS if device == "cpu" else GPU_CONFIGS
    return chosen[:3] if quick else chosen


def error(predicted: float | None, measured: float) -> float | None:
    return None if predicted is None else (predicted - measured) / measured


Measure = Callable[[TrainRequest], TrainMeasurement]
Progress = Callable[[str], None]


def validate(
    profile: DeviceProfile,
    catalog: Catalog,
    *,
    device: str,
    quick: bool,
    precisions: list[str],
    threads: int | None = None,
    measure: Measure | None = None,
    progress: Progress | None = None,
    shapes: list[GPTShape] | None = None,
    step_tolerance: float = STEP_TOLERANCE,
    memory_tolerance: float = MEMORY_TOLERANCE,
    methods: list[str] | None = None,
) -> ValidationReport:
    """Predict, then measure, every configuration; `measure` defaults to a fresh worker."""
    from advisor.benchmarks.overhead import PROBE, STATE_BYTES_PER_PARAM
    from advisor.benchmarks.train_step import run_in_subprocess

    run = measure or run_in_subprocess
    say = progress or (lambda text: None)
    hw = hardware(catalog, profile)
    steps, warmup = (3, 2) if quick else (8, 3)
    asked = methods or ["full"]
    skipped = {}
    if "qlora" in asked:
        reason = qlora_skip_reason(device)
        if reason:
            skipped["qlora"] = reason
    run_methods = [m for m in asked if m not in skipped]
    # Predict everything first: a profile the model cannot use fails before any training.
    plan = [
        (shape, method, precision, predict(shape, precision, hw, method))
        for method in run_methods
        for shape in shapes or configs(device, quick)
        for precision in precisions
    ]
    rows: list[ValidationRow] = []
    notes: list[str] = []
    say(f"probe: {PROBE.name} fp32 (framework overhead)")
    probe = run(TrainRequest(model=PROBE, device=device, steps=2, warmup=1, threads=threads))
    overhead = max(0.0, probe.peak_bytes - STATE_BYTES_PER_PARAM * probe.params) / 1e9
    for shape, method, precision, out in plan:
        lora = method != "full"
        say(f"{shape.name} {precision}" + (f" {method}" if lora else ""))
        req = TrainRequest(
            model=shape,
            precision=precision,  # type: ignore[arg-type]
            device=device,
            steps=steps,
            warmup=warmup,
            threads=threads,
            lora=lora_request() if lora else None,
        )
        try:
            m = run(req)
        except RuntimeError as e:
            raise DataError(str(e)) from e
        step_pred = getattr(out, "step_time_s", None)
        mem = out.memory_per_device_bytes
        rows.append(
            ValidationRow(
                config=shape.name,
                method=method,
                precision=precision,
                params=out.params,
                tokens_per_step=shape.batch * shape.seq_len,
                predicted_step_s=step_pred,
                measured_step_s=m.time.median_s,
                step_error=error(step_pred, m.time.median_s),
                predicted_memory_bytes=mem.total,
                measured_memory_bytes=m.peak_bytes,
                memory_error=error(mem.total, m.peak_bytes),  # type: ignore[arg-type]
                predicted_memory=mem.model_dump(exclude_none=True),
                measurement=m,
            )
        )
        expected = out.params + (out.trainable_params if lora else 0)
        if m.params != expected:
            notes.append(
                f"{shape.name} {method}: torch model has {m.params:,} parameters, "
                f"the ModelSpec {expected:,}"
            )
        if lora and m.trainable_params != out.trainable_params:
            notes.append(
                f"{shape.name}: torch trains {m.trainable_params:,} adapter parameters, "
                f"advisor counts {out.trainable_params:,}"
            )
    if rows and rows[0].predicted_step_s is None:
        notes.append("the estimate has no step time yet (no time model): step columns are n/a")
    prof_oh = profile.framework_overhead_gb.value if profile.framework_overhead_gb else None
    notes.extend(skipped.values())
    names = [
        f"{r.config} {r.precision}" + ("" if r.method == "full" else f" {r.method}") for r in rows
    ]
    summary = [
        summarize_errors(
            "step_time",
            list(zip(names, (r.step_error for r in rows), strict=True)),
            step_tolerance,
        ),
        summarize_errors(
            "peak_memory",
            list(zip(names, (r.memory_error for r in rows), strict=True)),
            memory_tolerance,
        ),
    ]
    judged = [s.passed for s in summary if s.passed is not None]
    return ValidationReport(
        created=dt.datetime.now(dt.UTC),
        profile=profile.id,
        accelerator=profile.accelerator,
        device=device,
        quick=quick,
        methods=asked,
        skipped=skipped,
        framework_overhead_gb=overhead,
        profile_framework_overhead_gb=prof_oh,
        rows=rows,
        summary=summary,
        passed=all(judged) if judged else None,
        notes=notes,
    )
