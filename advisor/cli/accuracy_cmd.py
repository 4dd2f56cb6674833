"""`advisor accuracy`: predictions against the shipped published training runs."""

from __future__ import annotations

from advisor.cli.common import CatalogOpt, JsonOpt, catalog_from, console, print_json

BOUNDS = {
    "table5": "Korthikanti et al. 2022 Table 5: mean |error| <= 5%, none above 10%",
    "table1": "Narayanan et al. 2021 Table 1: each within 10%",
    "llm-foundry": "llm-foundry A100-80GB: each within 15%",
}


def accuracy(catalog: CatalogOpt = None, json_out: JsonOpt = False) -> None:
    """Predicted against measured for each published run, with error statistics."""
    from advisor.accuracy import run_checks, skipped_runs, summary

    cat = catalog_from(catalog)
    checks = run_checks(cat)
    stats = summary(checks)
    skipped = skipped_runs()
    if json_out:
        print_json(
            {
                "checks": [c.model_dump() for c in checks],
                "summary": stats,
                "skipped": skipped,
                "bounds": BOUNDS,
            }
        )
        return
    from rich.markup import escape
    from rich.table import Table

    c = console()
    t = Table(title="Predicted against measured (published runs)", show_edge=False)
    for col in ("run", "metric", "measured", "predicted", "error", "layout", "used for"):
        t.add_column(col, justify="right" if col in ("measured", "predicted", "error") else "left")
    for ch in checks:
        p = ch.plan
        layout = (
            f"tp{p['tp']} pp{p['pp']} v{p['vpp']} dp{p['dp']} mb{p['micro_batch']} {p['recompute']}"
        )
        t.add_row(
            ch.id,
            "s/step" if ch.metric == "step_time_s" else "tokens/s/GPU",
            f"{ch.measured:,.4g}",
            f"{ch.predicted:,.4g}",
            f"{ch.error:+.1%}",
            layout,
            "fit" if ch.fitted else "held out",
        )
    c.print(t)
    for group, s in stats.items():
        bound = BOUNDS.get(group, "")
        c.print(
            f"{group:12s} n={int(s['n']):2d}  mean |error| {s['mean_abs_error']:.1%}  "
            f"max {s['max_abs_error']:.1%}   [dim]{escape(bound)}[/]"
        )
    for run_id, why in skipped.items():
        c.print(f"[dim]not checked: {run_id}: {escape(why)}[/]")
