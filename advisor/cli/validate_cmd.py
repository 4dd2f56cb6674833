"""`advisor validate`: real local training steps against the model's predictions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import CatalogOpt, JsonOpt, catalog_from, console, print_json
from advisor.errors import DataError, UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")


def validate(
    profile: Annotated[
        Path, typer.Option("--profile", help="Device profile from 'advisor calibrate'.")
    ],
    quick: Annotated[
        bool, typer.Option("--quick", help="Three configurations, fewer steps.")
    ] = False,
    device: Annotated[str, typer.Option(help="auto (from the profile), cpu, cuda, mps.")] = "auto",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the measurements as JSON.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads; default: physical cores.")
    ] = None,
    step_tolerance: Annotated[
        float | None,
        typer.Option(min=0.0, help="Largest |step time error| that passes; default 0.15."),
    ] = None,
    memory_tolerance: Annotated[
        float | None,
        typer.Option(min=0.0, help="Largest |peak memory error| that passes; default 0.15."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "--methods",
            help="What to train: full, lora, qlora, or a comma list (full,lora). qlora needs "
            "bitsandbytes on CUDA and is skipped elsewhere, with the reason.",
        ),
    ] = "full",
    serving: Annotated[
        bool,
        typer.Option(
            "--serving",
            help="Instead of training: the small GPT's prefill and decode, predicted "
            "against measured tokens per second.",
        ),
    ] = False,
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Train small GPTs here and print predicted against measured step time and memory."""
    from advisor.benchmarks.results import atomic_write_text, check_writable
    from advisor.calibrate import load_profile
    from advisor.validate import MEMORY_TOLERANCE, STEP_TOLERANCE, device_for
    from advisor.validate import validate as run_validation

    dev = device.strip().lower()
    if dev not in DEVICES:
        raise UsageError(f"--device: unknown device '{device}'; choose from {', '.join(DEVICES)}")
    if out is not None:
        try:
            check_writable(out)
        except OSError as e:
            raise UsageError(f"--out {out}: cannot write there ({e})") from e
    methods = parse_methods(method)
    prof = load_profile(profile)
    dev = device_for(prof, dev)
    if serving:
        from advisor.cli.validate_serving import run_serving

        run_serving(prof, catalog_from(catalog), dev, quick, out, json_out, threads)
        return
    precisions = _precisions(dev)
    cat = catalog_from(catalog)

    def say(text: str) -> None:
        sys.stderr.write(f"advisor validate: training {text}\n")
        sys.stderr.flush()

    report = run_validation(
        prof,
        cat,
        device=dev,
        quick=quick,
        precisions=precisions,
        threads=threads,
        progress=say,
        step_tolerance=STEP_TOLERANCE if step_tolerance is None else step_tolerance,
        memory_tolerance=MEMORY_TOLERANCE if memory_tolerance is None else memory_tolerance,
        methods=methods,
    )
    if out is not None:
        atomic_write_text(out, report.model_dump_json(indent=1) + "\n")
    if json_out:
        print_json(report)
        return
    _print_table(report)


def parse_methods(text: str) -> list[str]:
    """A comma list of full, lora, qlora, in the order given, without repeats."""
    from advisor.errors import nearest
    from advisor.validate import METHODS

    out: list[str] = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name not in METHODS:
            hint = nearest(name, METHODS)
            tail = f"; did you mean '{hint}'?" if hint else ""
            raise UsageError(
                f"--method: unknown method '{raw.strip()}'{tail} (choose from {', '.join(METHODS)})"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise UsageError("--method names no method; give full, lora or qlora")
    return out


def _precisions(device: str) -> list[str]:
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise DataError("advisor validate needs torch: pip install 'advisor[bench]'") from e
    from advisor.benchmarks.harness import resolve_device
    from advisor.benchmarks.train_request import STEP_PRECISIONS
    from advisor.benchmarks.training import autocast_supported

    try:
        resolve_device(device)
    except ValueError as e:
        raise UsageError(str(e)) from e
    return [p for p in STEP_PRECISIONS if autocast_supported(device, p)]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 1e3:.1f}"


def _mib(x: float) -> str:
    return f"{x / 2**20:.1f}"


def _verdict_line(s) -> str:  # type: ignore[no-untyped-def]
    name = s.quantity.replace("_", " ")
    if s.passed is None:
        return f"{name}: no predictions to compare"
    return (
        f"{name}: mean |error| {s.mean_abs_error:.1%}, max {s.max_abs_error:.1%} ({s.worst}); "
        f"{s.within} of {s.rows} within ±{s.tolerance:.0%}: {'PASS' if s.passed else 'FAIL'}"
    )


def _print_table(report) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    c = console()
    c.print(f"profile {report.profile} on {report.device}")
    t = Table(show_edge=False)
    for col in (
        "config",
        "method",
        "precision",
        "params",
        "step ms pred",
        "step ms meas",
        "err",
        "mem MiB pred",
        "mem MiB meas",
        "err",
    ):
        t.add_column(col, justify="left" if col in ("config", "method", "precision") else "right")
    for r in report.rows:
        t.add_row(
            r.config,
            r.method,
            r.precision,
            f"{r.params:,}",
            _ms(r.predicted_step_s),
            _ms(r.measured_step_s),
            _pct(r.step_error),
            _mib(r.predicted_memory_bytes),
            _mib(r.measured_memory_bytes),
            _pct(r.memory_error),
        )
    c.print(t)
    for s in report.summary:
        c.print(_verdict_line(s))
    if report.passed is not None:
        c.print(f"verdict: {'PASS' if report.passed else 'FAIL'}")
    if report.framework_overhead_gb is not None:
        prof = report.profile_framework_overhead_gb
        c.print(
            f"framework overhead measured now: {report.framework_overhead_gb * 1e3:.1f} MB"
            + (f" (profile: {prof * 1e3:.1f} MB)" if prof is not None else "")
        )
    for n in report.notes:
        c.print(f"[dim]note: {n}[/]")
