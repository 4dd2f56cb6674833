"""What `advisor estimate` prints for people: the layout, memory and step-time tables,
throughput, goodput, time, cost and the ranges."""

from __future__ import annotations

from typing import Any

from advisor.cli.common import console
from advisor.cli.goodput_opts import print_goodput
from advisor.units import format_bytes, format_duration, format_money, format_size


def print_human(out) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    c = console()
    hw = out.hardware
    p = out.plan
    if out.fits is False:
        # Said first: everything below describes a plan that cannot run.
        c.print(
            f"[bold red]does NOT fit[/]: {format_bytes(out.memory_per_device_bytes.total)} per "
            f"device against {format_bytes(out.memory_capacity_bytes or 0)}; the figures below "
            "are for a plan that cannot run"
        )
        alts = [
            f"{a['change']} ({format_bytes(a['memory'])}/device, "
            f"{format_money(a['cost']) if a.get('cost') is not None else 'no price'})"
            for a in out.what_would_fit or []
        ]
        none = "no change tried (method, rank, --recompute full, --offload, 64x the devices)"
        c.print("would fit: " + ("; ".join(alts) if alts else none))
    c.print(
        f"[bold]{out.model['name']}[/]: {out.params:,} parameters"
        + (f" ({out.active_params:,} active)" if out.active_params != out.params else "")
        + f", seq {out.model['seq_len']}"
    )
    c.print(
        f"on {hw['devices']} x {hw['name']} ({hw['nodes']} node(s) of {hw['devices_per_node']})"
    )
    if out.method is not None:
        c.print(f"method {out.method}: {out.trainable_params:,} trainable parameters")
    chosen = set(out.chosen)

    def mark(name: str, text: str) -> str:
        return f"{text}*" if name in chosen else text

    c.print(
        "layout: "
        + ", ".join(
            [
                f"dp {p.dp}",
                mark("tp", f"tp {p.tp}"),
                mark("pp", f"pp {p.pp}")
                + (
                    f" ({'/'.join(map(str, sorted(set(p.stage_layers), reverse=True)))} layers)"
                    if len(set(p.stage_layers)) > 1
                    else ""
                ),
                mark("cp", f"cp {p.cp}"),
                *([mark("ep", f"ep {p.ep}")] if out.active_params != out.params else []),
                mark("vpp", f"vpp {p.vpp}"),
                mark("sp", f"sp {'on' if p.sp else 'off'}"),
                mark("zero", f"zero {p.zero}"),
                mark("micro_batch", f"micro-batch {p.micro_batch}"),
                f"grad-accum {p.grad_accum}",
                mark("recompute", f"recompute {p.recompute}"),
                p.precision,
            ]
        )
        + ("   (* chosen by advisor)" if chosen else "")
    )
    c.print(
        f"FLOPs per token: {out.flops_per_token:.4g} model, {out.hardware_flops_per_token:.4g} "
        f"hardware; per step {out.flops['model_per_step']:.4g}; "
        f"training on {format_size(out.tokens)} tokens: {out.flops['total_model']:.4g}"
    )
    t = Table(title="Memory per device", show_edge=False)
    t.add_column("part")
    t.add_column("bytes", justify="right")
    # Bytes this device holds per model parameter: sharded states (ZeRO, tp, pp) are
    # small fractions, so three significant figures rather than two decimals (0.00).
    t.add_column("bytes/param", justify="right")
    m = out.memory_per_device_bytes
    for name in ("weights", "gradients", "optimizer", "activations", "other", "total"):
        v = getattr(m, name)
        per = f"{v / out.params:.3g}" if name in ("weights", "gradients", "optimizer") else ""
        t.add_row(name, format_bytes(v), per)
        if name == "weights" and m.base_weights is not None:
            for sub in ("base_weights", "quant_constants", "adapters"):
                part = getattr(m, sub)
                t.add_row(f"  {sub.replace('_', ' ')}", format_bytes(part), "")
    c.print(t)
    cap = out.memory_capacity_bytes
    verdict = "fits" if out.fits else "does NOT fit"
    c.print(f"{verdict} in {format_bytes(cap)} per device" if cap else "capacity unknown")
    c.print(f"step time {out.step_time_s:.4g} s{range_text(out, 'step_time_s')}")
    b = Table(title="Step time by part", show_edge=False)
    b.add_column("part")
    b.add_column("seconds", justify="right")
    b.add_column("share", justify="right")
    for k, v in out.breakdown_s.items():
        b.add_row(k, f"{v:.4g}", f"{v / out.step_time_s:.1%}")
    c.print(b)
    c.print(
        f"{out.tokens_per_s:,.0f} tokens/s ({out.tokens_per_s_per_device:,.0f} per device), "
        f"{out.achieved_tflops_per_device:.1f} TFLOP/s per device, "
        f"MFU {out.mfu:.1%}, HFU {out.hfu:.1%}"
        + (f" (of the {out.mfu_peak_precision} peak)" if out.mfu_peak_precision else "")
    )
    print_goodput(c, out)
    line = (
        f"time to train {format_size(out.tokens)} tokens: {format_duration(out.time_to_train_s)}"
        f"{range_text(out, 'time_to_train_s')}, {out.device_hours:,.0f} device-hours"
    )
    if out.cost_usd is not None:
        line += (
            f", {format_money(out.cost_usd)}{range_text(out, 'cost_usd')} "
            f"at ${out.price_per_hour_usd:,.2f}/h"
        )
    c.print(line)
    if out.range:
        basis = out.range["basis"]
        c.print(
            f"[dim]ranges: 10th-90th percentile of the cross-validated error on "
            f"{basis['count']} comparable published runs ({basis['group']}; advisor accuracy)[/]"
        )
    if out.energy_kwh is not None:
        c.print(f"energy {out.energy_kwh:,.0f} kWh, {out.emissions_kg_co2e:,.0f} kg CO2e")
    for a in out.assumptions:
        c.print(f"[dim]assumes: {a}[/]")


def range_text(out: Any, key: str) -> str:
    """' (range a-b)' for a figure of an estimate, formatted like the figure."""
    r = (
        (out.range or {}).get(key)
        if not isinstance(out, dict)
        else (out.get("range") or {}).get(key)
    )
    if not r or r.get("low") is None:
        return ""
    fmt = {
        "step_time_s": lambda v: f"{v:.4g} s",
        "time_to_train_s": format_duration,
        "cost_usd": format_money,
    }[key]
    return f" (range {fmt(r['low'])} to {fmt(r['high'])})"
