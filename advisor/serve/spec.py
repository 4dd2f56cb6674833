"""What is served, how it is laid out and at what load (validated at the boundary)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from advisor.errors import UsageError

WeightPrecision = Literal["bf16", "fp16", "fp8", "int8", "fp4", "int4"]
KvPrecision = Literal["bf16", "fp16", "fp8", "int8", "fp4"]
WEIGHT_PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "fp4", "int4")
KV_PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "fp4")
# Bytes per element of each storage format (int4/fp4: half a byte; group scales ignored).
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5}


class ServeSpec(BaseModel):
    """One serving configuration. With neither concurrency nor rate: the offline
    maximum-throughput point (every request queued, the largest batch that fits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_len: int = Field(default=1024, ge=1, le=10_000_000, description="Prompt tokens.")
    output_len: int = Field(default=256, ge=1, le=10_000_000, description="Generated tokens.")
    concurrency: float | None = Field(default=None, gt=0, description="Requests in flight.")
    rate: float | None = Field(default=None, gt=0, description="Requests per second (Poisson).")
    weight_precision: WeightPrecision = "bf16"
    kv_precision: KvPrecision | None = Field(
        default=None, description="KV-cache format; default: the weights' 16- or 8-bit float."
    )
    tp: int = Field(default=1, ge=1, description="Tensor-parallel degree.")
    pp: int = Field(default=1, ge=1, description="Pipeline stages.")
    ep: int = Field(default=1, ge=1, description="Expert-parallel degree (MoE).")
    engine: str = "vllm"

    @model_validator(mode="after")
    def _one_load(self) -> ServeSpec:
        if self.concurrency is not None and self.rate is not None:
            raise ValueError("give --concurrency or --rate, not both")
        return self

    @property
    def kv(self) -> str:
        """The KV format (resolved against the part by advisor.serve.hardware.default_kv)."""
        return self.kv_precision or ("fp8" if self.weight_precision == "fp8" else "bf16")

    @property
    def mode(self) -> str:
        if self.rate is not None:
            return "rate"
        return "concurrency" if self.concurrency is not None else "offline"


def serve_spec(**kw: object) -> ServeSpec:
    """ServeSpec from CLI values; a bad value is one UsageError line naming the flag."""
    from pydantic import ValidationError

    try:
        return ServeSpec(**kw)  # type: ignore[arg-type]
    except ValidationError as e:
        err = e.errors()[0]
        where = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise UsageError(f"{where} {msg}".strip()) from None


_LATENCY_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0, "min": 60.0}


def parse_latency(text: str, what: str) -> float:
    """'500ms', '1s', '0.05', '40 ms' -> seconds (a bare number is seconds)."""
    import math
    import re

    raw = str(text).strip()
    m = re.match(r"^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-zµ]*)$", raw, re.IGNORECASE)
    if not m or m.group(2).lower() not in _LATENCY_UNITS:
        raise UsageError(f"{what}: cannot read '{raw}'; expected something like 500ms or 1s")
    value = float(m.group(1)) * _LATENCY_UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{what}: '{raw}' must be greater than zero")
    return value
