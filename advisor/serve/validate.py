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
from advisor.serve.time import Rates, decode_time, prefill_flops

# Two norms, QKV, attention, output projection, MLP up, activation, MLP down, two adds.
KERNELS_PER_LAYER = 10
BYTES = {"fp32": 4.0, "bf16": 2.0}
TOLERANCE = 0.5  # |error| that passes: a plain torch loop, no engine
KV_PASSES = 3.0  # torch.cat reads the cache and writes it anew, then attention reads it


class ServingCheck(BaseModel):
    phase: str
    precision: str
    config: str
    batch: int
    context: int
    measured_tokens_per_s: float
    predicted_tokens_per_s: float
    error: float


def vector_time(dev: Any, spec: Any, dtype: str, tokens: int) -> float:
    """The step's elementwise kernels at the profile's measured rates (elements/s), where
    measured: two layer norms (2 x hidden) and the MLP activation (ffn) per token per layer."""
    t = 0.0
    for vclass, elements in (("norm", 2 * spec.hidden), ("activation", spec.ffn)):
        rate = dev.vector_rate(vclass, dtype)
        if rate:
            t += tokens * spec.layers * elements / rate
    return t


def predict(row: Any, catalog: Catalog, profile: DeviceProfile) -> float:
    """Predicted tokens/s of one GenerateRow (advisor/benchmarks/results.py).

    The serving model's decode and prefill formulas, with the profile's efficiencies read
    at the sizes this loop's kernels have (a decode matmul of a few rows runs far below
    the largest matmul's efficiency; the weights and the batch's KV cache stream at the
    bandwidth measured for a buffer of their total size), and the loop's own KV
    traffic: it re-concatenates the cache every step (advisor/benchmarks/generate.py),
    reading and writing it before attention reads it: 3 x the cache's bytes."""
    from advisor.validate import hardware, model_spec

    spec = model_spec(row.model)
    counts = count_params(spec)
    hw = hardware(catalog, profile)
    dev = device_model(catalog, hw.accelerator, profile, None, 1)
    dtype = row.precision
    wdev = counts.total * BYTES[dtype]
    kv = kv_bytes_per_token(spec, BYTES[dtype])
    launches = (KERNELS_PER_LAYER * spec.layers + 3) * dev.kernel_overhead
    tokens = row.batch * (row.prompt_len if row.phase == "prefill" else 1)
    # The largest matmul of a step (MLP up: tokens x hidden x ffn) sets its efficiency.
    e_mm = float(dev.matmul_efficiency(dtype)(2.0 * tokens * spec.hidden * spec.ffn))
    launches += vector_time(dev, spec, dtype, tokens)
    r = Rates(dev.memory_bandwidth, dev.peak(dtype) * e_mm, 0.0, 0.0, step_overhead=launches)
    if row.phase == "decode":
        # Steps repeat over the weights and every layer's cache: that working set, not one
        # kernel's buffer, decides which cache level (and bandwidth) serves them.
        traffic = wdev + KV_PASSES * row.batch * row.context * kv
        e = float(dev.memory_efficiency(traffic))
        t = decode_time(counts, spec, row.batch, row.context, wdev / e, KV_PASSES * kv / e, 1, r)
    else:
        e_w = float(dev.memory_efficiency(wdev))
        # The batch's prompts in one forward pass: the weights once, every prompt's FLOPs.
        flops = row.batch * prefill_flops(counts, spec, row.prompt_len)
        t = np.maximum(wdev / e_w / r.bandwidth, flops / r.flops) + launches
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
