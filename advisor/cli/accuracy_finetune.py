"""The fine-tuning section of `advisor accuracy` as text (advisor/finetune_accuracy.py)."""

from __future__ import annotations

from typing import Any

from advisor.cli.common import console, pct

METRIC_LABEL = {"peak_memory_bytes": "peak GB/GPU", "tokens_per_s_per_device": "tokens/s/GPU"}


def _val(metric: str, x: float) -> str:
    return f"{x / 1e9:,.2f}" if metric == "peak_memory_bytes" else f"{x:,.4g}"


def print_finetune(doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = console()
    t = Table(title="Fine-tuning rows: predicted against measured (unfitted)", show_edge=False)
    for col in ("run", "source", "method", "family", "metric", "measured", "predicted"):
        t.add_column(col, justify="right" if col in ("measured", "predicted") else "left")
    t.add_column("error", justify="right")
    t.add_column("napkin", justify="right")
    for r in doc["checks"]:
        m = r["metric"]
        t.add_row(
            r["id"],
            r["source"],
            r["method"],
            r["family"],
            METRIC_LABEL[m],
            _val(m, r["measured"]),
            _val(m, r["predicted"]),
            f"{r['error']:+.1%}",
            "-" if r["napkin_error"] is None else f"{r['napkin_error']:+.1%}",
        )
    c.print(t)
    for metric, tg in doc["targets"].items():
        c.print(
            f"{METRIC_LABEL[metric]}, n={tg['n']}: median |error| {pct(tg['median_abs_error'])} "
            f"(target {pct(tg['target_median_abs_error'])}: {'met' if tg['met'] else 'NOT met'}); "
            f"napkin median {pct(tg['napkin_median_abs_error'])}"
        )
    c.print(f"[dim]{escape(doc['method'])}[/]")
    for metric in doc["targets"]:
        for key in ("source", "method"):
            t = Table(title=f"{METRIC_LABEL[metric]} by {key}", show_edge=False)
            for col in (key, "n", "median", "p90", "napkin median", "napkin p90"):
                t.add_column(col, justify="left" if col == key else "right")
            for g, v in doc["summary"][metric][f"by_{key}"].items():
                t.add_row(
                    g,
                    str(v["model"]["n"]),
                    pct(v["model"]["median_abs_error"]),
                    pct(v["model"]["p90_abs_error"]),
                    pct(v["napkin"]["median_abs_error"]),
                    pct(v["napkin"]["p90_abs_error"]),
                )
            c.print(t)
    for run_id, notes in doc["approximations"].items():
        c.print(f"[dim]approximated: {run_id}: {escape('; '.join(notes))}[/]")
    for run_id, figs in doc["figures_not_checked"].items():
        for metric, why in figs.items():
            c.print(f"[dim]figure not checked: {run_id} {METRIC_LABEL[metric]}: {escape(why)}[/]")
    c.print(f"fine-tuning rows not checked: {len(doc['not_checked'])}")
    for run_id, why in doc["not_checked"].items():
        c.print(f"[dim]not checked: {run_id}: {escape(why)}[/]")
