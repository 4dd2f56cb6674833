"""`advisor calibrate`: fit `advisor bench` results into a device profile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import CatalogOpt, JsonOpt, catalog_from, console, print_json
from advisor.errors import UsageError


def calibrate(
    results: Annotated[Path, typer.Argument(help="Results file written by 'advisor bench'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Profile to write (.json, else YAML).")],
    accelerator: Annotated[
        str | None,
        typer.Option(help="Catalog accelerator id, when the device name does not resolve."),
    ] = None,
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fit matmul and memory efficiency curves, link bandwidth and latency into a profile."""
    from advisor.benchmarks.results import check_writable
    from advisor.calibrate import calibrate as fit
    from advisor.calibrate import read_results, write_profile

    try:
        check_writable(out)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write there ({e})") from e
    bench = read_results(results)
    profile, warnings = fit(bench, catalog_from(catalog), results.name, accelerator)
    write_profile(profile, out)
    for w in warnings:
        sys.stderr.write(f"advisor calibrate: warning: {w}\n")
    if json_out:
        print_json(profile)
        return
    _print_human(profile, out)


def _print_human(profile, out: Path) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    c = console()
    c.print(f"[bold]{profile.id}[/] (accelerator {profile.accelerator}) written to {out}")
    t = Table(show_edge=False)
    for col in ("figure", "value", "note"):
        t.add_column(col)
    for dtype, curve in profile.matmul.items():
        peak = profile.peak_tflops.get(dtype)
        peak_s = f" of {peak.value:.4g} TFLOP/s" if peak else ""
        t.add_row(
            f"matmul {dtype}",
            f"{curve.max_efficiency.value:.3f}{peak_s}",
            f"{len(curve.points)} sizes",
        )
    if profile.memory_bandwidth:
        ref = profile.memory_bandwidth_gbs
        t.add_row(
            "memory bandwidth",
            f"{profile.memory_bandwidth.max_efficiency.value:.3f}"
            + (f" of {ref.value:.4g} GB/s" if ref else " of catalog peak"),
            f"{len(profile.memory_bandwidth.points)} sizes",
        )
    for tier, link in profile.links.items():
        lat = f", latency {link.latency_us.value:.3g} us" if link.latency_us else ""
        t.add_row(f"link {tier}", f"{link.bus_bandwidth_gbs.value:.4g} GB/s busbw{lat}", "")
    if profile.optimizer_bandwidth_efficiency:
        t.add_row(
            "optimizer", f"{profile.optimizer_bandwidth_efficiency.value:.3f}", "of memory bw"
        )
    if profile.optimizer_tensor_overhead_us:
        t.add_row(
            "optimizer per tensor", f"{profile.optimizer_tensor_overhead_us.value:.3g} µs", ""
        )
    if profile.framework_overhead_gb:
        t.add_row("framework overhead", f"{profile.framework_overhead_gb.value:.4g} GB", "")
    for name, curves in (
        ("attention", profile.attention),
        ("attention bwd", profile.attention_backward),
    ):
        for dtype, curve in curves.items():
            t.add_row(
                f"{name} {dtype}",
                f"{curve.max_efficiency.value:.3f} of matmul peak",
                f"{len(curve.points)} sizes",
            )
    for dtype, rates in profile.vector_rates.items():
        got = {k: getattr(rates, k) for k in ("norm", "activation", "softmax", "cast")}
        text = ", ".join(f"{k} {f.value:.3g}" for k, f in got.items() if f is not None)
        t.add_row(f"elementwise {dtype}", text, "Gelem/s")
    if profile.training_efficiency:
        t.add_row(
            "training efficiency",
            f"{profile.training_efficiency.value:.3f}",
            "in-step / microbenchmark speed",
        )
    if profile.kernel_overhead_us:
        t.add_row("per-operator time", f"{profile.kernel_overhead_us.value:.3g} µs", "fixed")
    if profile.first_touch_gbs and profile.first_touch_min_bytes:
        t.add_row(
            "first touch",
            f"{profile.first_touch_gbs.value:.3g} GB/s",
            f"tensors >= {profile.first_touch_min_bytes.value / 2**20:.3g} MiB",
        )
    if profile.allocator_slack:
        t.add_row("allocator slack", f"{profile.allocator_slack.value:.3f}", "of live tensors")
    if profile.lora_allocator_slack:
        t.add_row(
            "LoRA allocator slack", f"{profile.lora_allocator_slack.value:.3f}", "of live tensors"
        )
    c.print(t)
