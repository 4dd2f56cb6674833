"""The whole-run section of `advisor accuracy` as text (advisor/goodput_accuracy.py)."""

from __future__ import annotations

from typing import Any

from advisor.cli.common import console, pct


def print_whole_run(doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = console()
    t = Table(
        title="Whole runs on wall throughput (tokens / device-hours): steady prediction x goodput",
        show_edge=False,
    )
    cols = ("run", "source", "devices", "measured", "steady", "goodput", "predicted", "error")
    for col in (*cols, "steady error", "napkin"):
        t.add_column(col, justify="left" if col in ("run", "source") else "right")
    for r in doc["checks"]:
        t.add_row(
            r["id"],
            r["source"],
            f"{r['devices']:,}",
            f"{r['measured']:,.4g}",
            f"{r['steady_predicted']:,.4g}",
            f"{r['goodput']:.3f}",
            f"{r['predicted']:,.4g}",
            f"{r['error']:+.1%}",
            f"{r['steady_error']:+.1%}",
            f"{r['napkin_error']:+.1%}",
        )
    c.print(t)
    s = doc["summary"]
    c.print(
        f"whole runs, n={s['cv']['n']}: median |error| {pct(s['cv']['median_abs_error'])} "
        f"with goodput, {pct(s['steady_only']['median_abs_error'])} steady state alone; "
        f"napkin (45% MFU) {pct(s['napkin']['median_abs_error'])}"
    )
    a = Table(title="Goodput anchors (published whole-run figures)", show_edge=False)
    for col in ("anchor", "devices", "days", "measure", "published", "model", "band", "source"):
        a.add_column(col, justify="right" if col in ("devices", "days", "model") else "left")
    for r in doc["anchors"]:
        mark = "" if r["within_band"] else " [red]outside[/]"
        a.add_row(
            r["id"],
            f"{r['devices']:,}",
            f"{r['days']:g}",
            r["measure"],
            f"{r['bound']} {r['measured']:.2f}",
            f"{r['predicted']:.3f}",
            f"{r['band'][0]:.2f}-{r['band'][1]:.2f}{mark}",
            escape(r["source"]),
        )
    c.print(a)
    for r in doc["anchors"]:
        c.print(f"[dim]{r['id']}: assumed {escape(r['assumed'])}[/]")
    for run_id, why in doc["not_checked"].items():
        c.print(f"[dim]whole run not checked: {run_id}: {escape(why)}[/]")
