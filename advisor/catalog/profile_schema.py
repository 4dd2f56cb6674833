"""Device profiles (hardware_catalog/profiles.yaml, and what `advisor calibrate` writes):
efficiency curves against op size, link latency and bandwidth, measured vector rates,
and the fitted per-operator and training-step terms."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from advisor.catalog.figure import Dtype, Figure, Id, Strict


class Curve(Strict):
    """Achieved fraction of peak against work size.

    Efficiency at size x is interpolated in log(x) between `points`; beyond the
    last point it is `max_efficiency`. With no points it is `max_efficiency`
    everywhere.
    """

    max_efficiency: Figure = Field(description="Fraction of peak at large sizes (0-1].")
    points: list[tuple[float, float]] = Field(
        default_factory=list, description="(size, efficiency) pairs, size ascending."
    )

    @field_validator("points")
    @classmethod
    def _ascending(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        sizes = [p[0] for p in v]
        if sizes != sorted(sizes) or any(s <= 0 for s in sizes):
            raise ValueError("point sizes must be positive and ascending")
        if any(not 0 < e <= 1.5 for _, e in v):
            raise ValueError("point efficiencies must be in (0, 1.5]")
        return v

    @model_validator(mode="after")
    def _in_range(self) -> Curve:
        if not 0 < self.max_efficiency.value <= 1.5:
            raise ValueError("max_efficiency must be in (0, 1.5]")
        return self


class LinkProfile(Strict):
    """Achieved collective bus bandwidth on one network tier."""

    bus_bandwidth_gbs: Figure = Field(description="Measured large-message bus bandwidth, GB/s.")
    latency_us: Figure | None = None


class StepFit(Strict):
    """The step model's two in-step figures fitted on one precision's training steps."""

    kernel_overhead_us: Figure = Field(description="Fixed time per operator, µs.")
    training_efficiency: Figure | None = Field(
        default=None, description="In-step speed over the microbenchmarks' roofline."
    )


class VectorRates(Strict):
    """Throughput of elementwise operators that are bound by their arithmetic (exp, erf,
    rsqrt, conversions) rather than by memory bandwidth, in 1e9 elements per second.

    `norm`, `activation` and `softmax` are forward-pass rates chosen so that the step
    model's forward plus backward (backward = 2 x forward inside a block, 1 x forward
    for the loss) takes the measured forward+backward time: rate = (1 + b) x elements
    / t(forward+backward). `cast` is one dtype conversion to or from fp32.
    """

    norm: Figure | None = Field(default=None, description="LayerNorm/RMSNorm, Gelem/s.")
    activation: Figure | None = Field(default=None, description="GELU/SiLU, Gelem/s.")
    softmax: Figure | None = Field(default=None, description="Softmax cross-entropy, Gelem/s.")
    cast: Figure | None = Field(default=None, description="Conversion to/from fp32, Gelem/s.")


class DeviceProfile(Strict):
    """Efficiency curves the step-time model uses for one accelerator.

    Matmul curves are indexed by an op's FLOPs (2·m·n·k), memory curves by the
    bytes an op moves. Efficiencies are fractions of the catalog's peak, or of
    `peak_tflops` / `memory_bandwidth_gbs` here when the profile gives them
    (a measured local CPU has no datasheet peak for memory bandwidth).

    The fields after `optimizer_bandwidth_efficiency` are optional and come from
    `advisor calibrate` on a device's own benchmarks; the step model uses each only
    when a profile gives it (the shipped GPU profiles give none of them).
    """

    id: Id
    accelerator: Id
    matmul: dict[Dtype, Curve] = Field(
        default_factory=dict, description="Achieved matmul fraction of dense peak, by dtype."
    )
    memory_bandwidth: Curve | None = None
    links: dict[Literal["intra_node", "inter_node"], LinkProfile] = Field(default_factory=dict)
    peak_tflops: dict[Dtype, Figure] = Field(
        default_factory=dict, description="Peaks the efficiencies refer to, when not the catalog's."
    )
    memory_bandwidth_gbs: Figure | None = Field(
        default=None, description="Memory bandwidth the memory curve refers to, GB/s."
    )
    framework_overhead_gb: Figure | None = Field(
        default=None, description="Measured memory beyond the model's accounting, GB."
    )
    optimizer_bandwidth_efficiency: Figure | None = Field(
        default=None, description="Achieved fraction of memory bandwidth in the optimizer step."
    )
    attention: dict[Dtype, Curve] = Field(
        default_factory=dict,
        description="Fused attention kernel, forward: achieved fraction of the matmul peak "
        "against its FLOPs per sequence and head (4·s²·d, causal counted as half).",
    )
    attention_backward: dict[Dtype, Curve] = Field(
        default_factory=dict,
        description="Fused attention kernel, backward alone (2 x the forward's FLOPs): "
        "fraction of the matmul peak, against the forward FLOPs per sequence and head.",
    )
    vector_rates: dict[Dtype, VectorRates] = Field(
        default_factory=dict,
        description="Compute-bound elementwise throughput by the dtype the operator runs in.",
    )
    kernel_overhead_us: Figure | None = Field(
        default=None,
        description="Fixed time per operator of the step model (dispatch, autograd, launch), µs.",
    )
    training_efficiency: Figure | None = Field(
        default=None,
        description="What a real training step achieves against the microbenchmark figures "
        "above: the step model divides its operators' roofline times by it.",
    )
    step_fit_by_precision: dict[Dtype, StepFit] = Field(
        default_factory=dict,
        description="kernel_overhead_us and training_efficiency fitted with one efficiency "
        "per precision, where the benchmarks ran each (bf16 autocast casts and dispatches "
        "what fp32 does not); the step model uses them for that precision.",
    )
    optimizer_tensor_overhead_us: Figure | None = Field(
        default=None, description="Fixed optimizer time per parameter tensor per step, µs."
    )
    first_touch_gbs: Figure | None = Field(
        default=None,
        description="Extra cost of writing memory the allocator maps fresh from the operating "
        "system (page faults, zeroing), as GB/s: seconds = bytes / (this x 1e9).",
    )
    first_touch_min_bytes: Figure | None = Field(
        default=None,
        description="Tensors at least this large are mapped fresh at every allocation, bytes.",
    )
    allocator_slack: Figure | None = Field(
        default=None,
        description="Memory the allocator holds beyond the live tensors at the peak, as a "
        "fraction of them (fragmentation, freed blocks not returned).",
    )
    lora_allocator_slack: Figure | None = Field(
        default=None,
        description="allocator_slack of a LoRA/QLoRA step (each adapted layer frees "
        "layer-sized temporaries the allocator keeps), as a fraction of live tensors; "
        "LoRA and QLoRA use it where present.",
    )
    notes: str | None = None
