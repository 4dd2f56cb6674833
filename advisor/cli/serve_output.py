"""Tables for `advisor serve`: one configuration, or the ranked options."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from typing import Any

from advisor.cli.common import console
from advisor.units import format_bytes


def _ranged(x: dict[str, Any], num: Callable[[float], str], unit: str = "") -> str:
    """'value unit (low-high)' of a figure with its range, '-' where there is none."""
    v = x.get("value")
    if v is None:
        return "-"
    lo, hi = x["range"]
    return f"{num(v)}{unit} ({num(lo)}-{num(hi)})"


def _ms(x: dict[str, Any]) -> str:
    return _ranged(x, lambda v: f"{v * 1e3:,.1f}", " ms")


def _num(x: dict[str, Any], unit: str = "") -> str:
    return _ranged(x, lambda v: f"{v:,.0f}", unit)


def _usd(x: dict[str, Any]) -> str:
    return _ranged(x, lambda v: f"${v:,.3f}")


def print_one(doc: dict[str, Any]) -> None:
    from rich.markup import escape

    c = console()
    w = doc["workload"]
    if w["mode"] == "concurrency":
        load = f"{w['concurrency']:g} requests in flight"
    elif w["mode"] == "rate":
        load = f"{w['rate_per_s']:g} requests/s"
    else:
        load = "offline maximum throughput (every request queued)"
    lay = doc["layout"]
    p = doc["precision"]
    c.print(
        f"[bold]{doc['model']}[/] on {doc['devices']} x {doc['accelerator']}"
        + (f" ({doc['offering']})" if doc["offering"] else "")
        + f", {doc['engine']}, tp {lay['tp']} pp {lay['pp']} ({lay['replicas']} replica"
        + ("s" if lay["replicas"] > 1 else "")
        + f"), weights {p['weights']}, KV {p['kv_cache']}"
    )
    c.print(f"{w['input_len']} prompt + {w['output_len']} output tokens; {load}")
    m = doc["memory_per_device_bytes"]["value"]
    c.print("Memory per device:")
    for key, label in (
        ("weights", "weights"),
        ("kv_cache", "KV cache (at the largest batch)"),
        ("activations", "activations"),
        ("overhead", "runtime overhead"),
        ("total", "total"),
    ):
        c.print(f"  {label:32s} {format_bytes(m[key])}")
    c.print(f"  {'KV cache per token':32s} {format_bytes(m['kv_cache_per_token'])}")
    mb = doc["max_batch"]
    c.print(
        f"largest batch that fits: {mb['value']:,} sequences "
        f"(range {mb['range'][0]:,}-{mb['range'][1]:,})"
    )
    if not doc["fits"]:
        fixed = m["weights"] + m["activations"] + m["overhead"]
        c.print(
            f"[red]does not fit: weights, activations and runtime take {format_bytes(fixed)} "
            f"per device, leaving no room for one request's KV cache; try more devices "
            "(--count, --tp), --precision fp8 or a shorter --input-len[/]"
        )
        return
    if doc["saturated"]:
        c.print(
            "[red]saturated: the rate exceeds what the largest batch sustains; the queue grows[/]"
        )
    c.print(f"mean batch at this load: {doc['batch']:,.1f}")
    c.print(f"time to first token:   {_ms(doc['ttft_s'])}")
    c.print(f"time per output token: {_ms(doc['tpot_s'])}")
    c.print(f"output tokens/s:       {_num(doc['output_tokens_per_s'])}")
    c.print(f"tokens/s (in + out):   {_num(doc['tokens_per_s'])}")
    c.print(f"requests/s:            {doc['requests_per_s']['value']:,.2f}")
    if doc["price_per_hour_usd"] is not None:
        c.print(f"price: ${doc['price_per_hour_usd']:,.2f}/h")
        c.print(
            f"cost per million output tokens: {_usd(doc['cost_per_million_output_tokens_usd'])}"
        )
        c.print(f"cost per million input tokens:  {_usd(doc['cost_per_million_input_tokens_usd'])}")
    c.print(
        "[dim]ranges: 10th-90th percentile of the cross-validated error on "
        "published serving rows[/]"
    )
    for a in doc["assumptions"]:
        c.print(f"[dim]- {escape(a)}[/]")


COLUMNS = (
    "rank",
    "offering",
    "provider",
    "accelerator",
    "devices",
    "tp",
    "replicas",
    "weights",
    "kv_cache",
    "max_batch",
    "ttft_ms",
    "tpot_ms",
    "output_tokens_per_s",
    "price_per_hour_usd",
    "cost_per_million_output_tokens_usd",
    "meets_slo",
)


def _row(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "rank": o.get("rank"),
        "offering": o["offering"],
        "provider": o["provider"],
        "accelerator": o["accelerator"],
        "devices": o["devices"],
        "tp": o["tp"],
        "replicas": o["replicas"],
        "weights": o["weights"],
        "kv_cache": o["kv_cache"],
        "max_batch": o["max_batch"],
        "ttft_ms": None if o["ttft_s"] is None else round(o["ttft_s"] * 1e3, 2),
        "tpot_ms": None if o["tpot_s"] is None else round(o["tpot_s"] * 1e3, 2),
        "output_tokens_per_s": round(o["output_tokens_per_s"], 1),
        "price_per_hour_usd": o["price_per_hour_usd"],
        "cost_per_million_output_tokens_usd": _round(o["cost_per_million_output_tokens_usd"], 4),
        "meets_slo": o["meets_slo"],
    }


def _round(x: float | None, n: int) -> float | None:
    return None if x is None else round(x, n)


def print_csv(result: dict[str, Any]) -> None:
    rows = result["options"] or result.get("closest", [])
    w = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS))
    w.writeheader()
    for o in rows:
        w.writerow(_row(o))


def print_ranked(result: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = console()
    q = result["query"]
    slo = ", ".join(
        f"{k} <= {q[k] * 1e3:g} ms" for k in ("ttft_slo_s", "tpot_slo_s") if q.get(k) is not None
    )
    rows = result["options"]
    if rows:
        title = (
            f"{len(rows)} of {result['meeting_slo']} options meeting the SLOs "
            f"({slo or 'none'}), by cost per million output tokens"
        )
    else:
        c.print(f"[red]none of {result['scored']} options meets the SLOs ({slo}); closest:[/]")
        rows = result["closest"]
        title = "closest options (by how far the worse latency is over its SLO)"
    t = Table(title=title, show_edge=False)
    for col in (
        "#",
        "offering",
        "devices",
        "tp",
        "weights/KV",
        "batch",
        "TTFT",
        "TPOT",
        "out tok/s",
        "$/h",
        "$/M out",
    ):
        t.add_column(col, justify="left" if col in ("offering", "weights/KV") else "right")
    for o in rows:
        t.add_row(
            str(o.get("rank") or "-"),
            f"{o['offering']} ({o['accelerator']})",
            str(o["devices"]),
            f"{o['tp']} x{o['replicas']}",
            f"{o['weights']}/{o['kv_cache']}",
            f"{o['batch']:,.1f}",
            "-" if o["ttft_s"] is None else f"{o['ttft_s'] * 1e3:,.0f} ms",
            "-" if o["tpot_s"] is None else f"{o['tpot_s'] * 1e3:,.1f} ms",
            f"{o['output_tokens_per_s']:,.0f}",
            "-" if o["price_per_hour_usd"] is None else f"{o['price_per_hour_usd']:,.2f}",
            "-"
            if o["cost_per_million_output_tokens_usd"] is None
            else f"{o['cost_per_million_output_tokens_usd']:,.3f}",
        )
    c.print(t)
    for n in result["notes"]:
        c.print(f"[dim]- {escape(n)}[/]")
