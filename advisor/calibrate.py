"""Fit benchmark results into a `DeviceProfile`, and read profiles back.

What each profile field comes from (advisor/benchmarks/results.py rows):
- `matmul[dtype]`: efficiency = achieved FLOP/s / peak at each op size
  (2·m·n·k), the median over the shapes of one size; `max_efficiency` is the
  efficiency at the largest size measured, where the curve ends (Curve: beyond
  the last point the model uses `max_efficiency`). Peaks are the catalog's
  (for the local CPU: cores x clock x FLOPs/cycle from advisor/catalog/local_cpu.py);
  where the catalog has none, or the measurement beats it (a peak computed at a
  base or rated clock that the part runs above), the best measured figure is the
  peak, its note names the catalog's figure and clock, and so every efficiency
  is at most 1.
- `memory_bandwidth`: STREAM copy and triad, efficiency = GB/s / reference,
  the reference being the catalog's bandwidth or, where it has none (a CPU),
  the best measured copy/triad bandwidth at any size, put in `memory_bandwidth_gbs`.
- `links.intra_node`: t = latency + S·factor / busbw fitted over every
  collective (nccl-tests PERFORMANCE.md: factor 2(n-1)/n for all-reduce,
  (n-1)/n for all-gather and reduce-scatter), by least squares on relative
  error so small and large messages count alike.
- `optimizer_bandwidth_efficiency`: the AdamW implementation torch picks by
  default, at the largest size, as achieved GB/s / the memory reference.
- `framework_overhead_gb`: the `overhead` benchmark (peak memory of a tiny
  training process minus its tensors); the larger of its precisions.
- `optimizer_tensor_overhead_us`: with AdamW rows of two or more models (the
  `adam` benchmark's shapes differ in tensor count and size), t = c·tensors +
  bytes / bandwidth by least squares on relative error; the bandwidth it gives
  replaces the largest row's in `optimizer_bandwidth_efficiency`.
- `attention` / `attention_backward`: the fused kernel (`sdpa`) of the
  `attention` benchmark, causal rows where there are any, as efficiency against
  the dtype's matmul peak (the same peak `matmul` refers to), indexed by the
  forward FLOPs of one sequence and head (4·s²·d, halved when causal); backward
  timed alone (older results: forward+backward minus forward) at 2x forward FLOPs.
- `vector_rates`: per operator and dtype from the `elementwise` benchmark,
  t = a + (1 + b)·elements / rate over sizes (b = 2 for norm and activation,
  1 for the loss: the backward-to-forward ratio the step model uses), so the
  model's forward + backward of the op reproduces the measured one; casts
  t = a + elements / rate over both directions.
- `kernel_overhead_us` and `training_efficiency`: from the benchmarks' real
  training steps, of shapes `advisor validate` does not train: the `overhead`
  probe (a one-layer GPT whose step is almost all fixed per-operator cost) and
  the `allocator` runs (a mid-size GPT whose step is mostly arithmetic). The
  step model is linear in both, t = rest + o·operators + work / e, with the
  operator count and the roofline work read off the model itself; least
  squares on relative error gives o (at least 0) and e (1 without allocator
  rows).
- `first_touch_gbs` / `first_touch_min_bytes`: membw's `alloc` (allocate, fill
  and free a tensor) against `fill` (write an existing one): from the smallest
  size at which alloc takes more than 1.5x fill's time (every larger size too),
  the allocator maps tensors fresh; the extra time per byte at the largest size
  is the first-touch rate. None when no such size (a caching allocator).
- `allocator_slack`: the `allocator` benchmark: (peak memory - framework
  overhead - peak live tensors) / peak live tensors, the median over its shapes.
- `lora_allocator_slack`: the same of the `lora` benchmark's steps (frozen base,
  adapters), which free layer-sized temporaries that full training does not.

Pure numpy and pydantic: no torch.
"""

from __future__ import annotations

from advisor.benchmarks.results import BenchFile
from advisor.calibration.curves import (
    attention_curves,
    backward_seconds,
    link_profile,
    matmul_curves,
    memory_curve,
    optimizer_efficiency,
)
from advisor.calibration.files import dump_profile, load_profile, read_results, write_profile
from advisor.calibration.fitting import (
    CPU_BACKEND,
    CUDA_BACKEND,
    MAX_EFFICIENCY,
    SOURCE,
    _Figures,
    _ok,
    accelerator_for,
    curve_points,
    fit_count_and_rate,
    fit_latency_bandwidth,
    median_by_size,
    reference_peak,
    significant,
)
from advisor.calibration.rates import (
    FIRST_TOUCH_MIN_SHARE,
    VECTOR_BACKWARD,
    allocator_slack,
    first_touch,
    framework_overhead,
    lora_allocator_slack,
    vector_rates,
)
from advisor.calibration.steps import step_fits
from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile

__all__ = [
    "CPU_BACKEND",
    "CUDA_BACKEND",
    "FIRST_TOUCH_MIN_SHARE",
    "MAX_EFFICIENCY",
    "SOURCE",
    "VECTOR_BACKWARD",
    "accelerator_for",
    "allocator_slack",
    "attention_curves",
    "backward_seconds",
    "calibrate",
    "curve_points",
    "dump_profile",
    "first_touch",
    "fit_count_and_rate",
    "fit_latency_bandwidth",
    "framework_overhead",
    "link_profile",
    "load_profile",
    "lora_allocator_slack",
    "matmul_curves",
    "median_by_size",
    "memory_curve",
    "optimizer_efficiency",
    "read_results",
    "reference_peak",
    "significant",
    "step_fits",
    "vector_rates",
    "write_profile",
]


def calibrate(
    bench: BenchFile,
    catalog: Catalog,
    results_name: str,
    accelerator: str | None = None,
) -> tuple[DeviceProfile, list[str]]:
    """The device profile these results support, and warnings about what is missing."""
    acc = accelerator_for(bench, catalog, accelerator)
    day = bench.created.date()
    fig = _Figures(results_name, day)
    warnings: list[str] = []
    matmul, peaks = matmul_curves(bench, acc, fig)
    mem, mem_ref_fig, mem_ref = memory_curve(bench, acc, fig)
    link, link_warning = link_profile(bench, fig)
    if link_warning:
        warnings.append(link_warning)
    for name, what in (
        ("matmul", "matmul curves"),
        ("membw", "memory curve"),
        ("collectives", "link"),
        ("adam", "optimizer efficiency"),
        ("overhead", "framework overhead"),
        ("attention", "attention curves"),
        ("elementwise", "elementwise rates"),
        ("allocator", "allocator slack"),
    ):
        if _ok(bench, name) is None:
            warnings.append(f"no '{name}' results: the profile has no {what}")
    env = bench.env
    note = (
        f"advisor calibrate of {results_name} ({bench.created:%Y-%m-%d %H:%M} UTC): "
        f"{env.devices[0].name if env.devices else env.cpu_model}, torch {env.torch_version}, "
        f"{env.threads or '?'} CPU threads, {'quick' if bench.config.quick else 'full'} suite"
    )
    peak_values = {d: f.value for d, f in acc.peak_tflops.items()}
    peak_values.update({d: f.value for d, f in peaks.items()})
    attention, attention_bwd = attention_curves(bench, peak_values, fig)
    overhead_gb = framework_overhead(bench, fig)
    opt_eff, opt_tensor = optimizer_efficiency(bench, mem_ref, fig)
    touch_gbs, touch_min = first_touch(bench, fig)
    profile = DeviceProfile(
        id=f"{acc.id}-local-{day.isoformat()}",
        accelerator=acc.id,
        matmul=matmul,
        memory_bandwidth=mem,
        links={"intra_node": link} if link else {},
        peak_tflops=peaks,
        memory_bandwidth_gbs=mem_ref_fig,
        framework_overhead_gb=overhead_gb,
        optimizer_bandwidth_efficiency=opt_eff,
        attention=attention,
        attention_backward=attention_bwd,
        vector_rates=vector_rates(bench, fig),
        optimizer_tensor_overhead_us=opt_tensor,
        allocator_slack=allocator_slack(bench, overhead_gb, fig),
        lora_allocator_slack=lora_allocator_slack(bench, overhead_gb, fig),
        first_touch_gbs=touch_gbs,
        first_touch_min_bytes=touch_min,
        notes=note,
    )
    if matmul:  # the step model needs a matmul curve to predict a training step
        per_op, eff, by_precision, why = step_fits(bench, profile, catalog, fig)
        if why:
            warnings.append(why)
        if per_op is not None:
            fitted = {
                "kernel_overhead_us": per_op,
                "training_efficiency": eff,
                "step_fit_by_precision": by_precision,
            }
            profile = profile.model_copy(update=fitted)
    return profile, warnings
