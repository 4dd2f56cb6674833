"""The serving check of `advisor validate --serving`: the small GPT's prefill and decode
measured here (advisor bench's `prefill` and `decode` benchmarks, advisor/benchmarks/generate.py)
against the serving model's prediction from the device profile.

The prediction is the analytic model alone (engine factors are fitted on published
engines, not on a plain torch loop) plus the profile's measured time per kernel for the
kernels a step launches (KERNELS_PER_LAYER x layers + 3): a tiny model on a CPU is
launch-bound, which bandwidth and FLOP/s alone cannot say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile
from advisor.model.device import device_model
from advisor.model.params import count_params
from advisor.serve.memory import kv_bytes_per_token
from advisor.serve.time import Rates, decode_time, prefill_time

# Two norms, QKV, attention, output projection, MLP up, activation, MLP down, two adds.
KERNELS_PER_LAYER = 10
BYTES = {"fp32": 4.0, "bf16": 2.0}
TOLERANCE = 0.5  # |error| that passes: a plain torch loop, no engine


class ServingCheck(BaseModel):
    phase: str
    precision: str
    config: str
    batch: int
    context: int
    measured_tokens_per_s: float
    predicted_tokens_per_s: float
    error: float


def predict(row: Any, catalog: Catalog, profile: DeviceProfile) -> float:
    """Predicted tokens/s of one GenerateRow (advisor/benchmarks/results.py)."""
    from advisor.validate import hardware, model_spec

    spec = model_spec(row.model)
    counts = count_params(spec)
    hw = hardware(catalog, profile)
    dev = device_model(catalog, hw.accelerator, profile, None, 1)
    dtype = row.precision
    wdev = counts.total * BYTES[dtype]
    kv = kv_bytes_per_token(spec, BYTES[dtype])
    launches = (KERNELS_PER_LAYER * spec.layers + 3) * dev.kernel_overhead
    r = Rates(
        dev.memory_bandwidth * dev.memory_efficiency.max_efficiency,
        dev.peak(dtype) * dev.matmul_efficiency(dtype).max_efficiency,
        0.0,
        0.0,
        step_overhead=launches,
    )
    if row.phase == "decode":
        t = decode_time(counts, spec, row.batch, row.context, wdev, kv, 1, r)
    else:
        t = row.batch * prefill_time(counts, spec, row.prompt_len, wdev, 1, 1, r)
    return float(row.tokens / np.asarray(t))


Measure = Callable[[str, bool, int | None], list[Any]]


def measure_here(device: str, quick: bool, threads: int | None = None) -> list[Any]:
    """Run the prefill and decode benchmarks in this process (imports torch), on the
    physical cores unless told (oversubscribed threads spin against each other)."""
    from advisor.benchmarks import decode, prefill
    from advisor.benchmarks.harness import Context, quick_context, set_threads

    ctx = Context(device=device, quick=quick, threads=set_threads(threads))
    ctx = quick_context(ctx) if quick else ctx
    return prefill.run(ctx).rows + decode.run(ctx).rows


def serving_check(
    profile: DeviceProfile,
    catalog: Catalog,
    device: str,
    quick: bool,
    threads: int | None = None,
    measure: Measure = measure_here,
) -> dict[str, Any]:
    rows = measure(device, quick, threads)
    checks = []
    for row in rows:
        p = predict(row, catalog, profile)
        checks.append(
            ServingCheck(
                phase=row.phase,
                precision=row.precision,
                config=row.model.name,
                batch=row.batch,
                context=row.context,
                measured_tokens_per_s=row.tokens_per_s,
                predicted_tokens_per_s=p,
                error=p / row.tokens_per_s - 1.0,
            )
        )
    errs = [abs(c.error) for c in checks]
    median = float(np.median(errs)) if errs else None
    return {
        "profile": profile.id,
        "device": device,
        "checks": [c.model_dump() for c in checks],
        "median_abs_error": median,
        "tolerance": TOLERANCE,
        "passed": None if median is None else median <= TOLERANCE,
        "method": __doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
    }
