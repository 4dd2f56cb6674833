"""`advisor accuracy`: cross-validated predictions against the shipped published runs."""

from __future__ import annotations

from typing import Any

from advisor.cli.common import CatalogOpt, JsonOpt, catalog_from, console, pct, print_json


def accuracy(catalog: CatalogOpt = None, json_out: JsonOpt = False) -> None:
    """Each published run predicted with factors fitted without its own source
    (leave-one-source-out), the 45%-MFU napkin beside it, and every row not checked;
    then the MoE rows (cross-validated over the dense fit), the published fine-tuning rows
    (peak memory and throughput, unfitted), and the published serving rows (engine
    factors fitted leave-one-source-out)."""
    from advisor.cli.accuracy_moe import moe_document, print_moe
    from advisor.crossval import base_predictions, cross_validate, shrink_weight, summary
    from advisor.finetune_accuracy import finetune_document
    from advisor.goodput_accuracy import whole_run_document
    from advisor.serve.accuracy import serving_document

    catalog_from(catalog)  # a bad --catalog is still reported
    preds, skipped = base_predictions()
    weight = shrink_weight(preds)
    rows = cross_validate(preds, weight)
    stats = summary(rows)
    stats["shrink_weight"] = weight
    reasons: dict[str, int] = {}
    for why in skipped.values():
        reasons[why] = reasons.get(why, 0) + 1
    if json_out:
        print_json(
            {
                "method": "leave-one-source-out: a time factor per (stack, accelerator family) "
                "fitted on the other sources' steady-state rows, shrunk toward the analytic "
                f"model as g**{weight:g} (the weight chosen from 0, 0.25, .., 1 by the same "
                "leave-one-source-out median error); napkin = (6N + 12*L*s*h) FLOPs per "
                "token at 45% of the dense peak of the row's precision",
                "checks": [r.model_dump() for r in rows],
                "summary": stats,
                "not_checked": skipped,
                "not_checked_reasons": reasons,
                "finetune": finetune_document(),
                "whole_run_wall": whole_run_document(rows),
                "serving": serving_document(),
                "moe": moe_document(preds, weight),
            }
        )
        return
    _print(rows, stats, skipped, reasons)
    from advisor.cli.accuracy_goodput import print_whole_run

    print_whole_run(whole_run_document(rows))
    print_moe(moe_document(preds, weight))
    from advisor.cli.accuracy_finetune import print_finetune

    print_finetune(finetune_document())
    from advisor.cli.accuracy_serving import print_serving

    print_serving(serving_document())


def _print(rows: list[Any], stats: dict[str, Any], skipped: dict[str, str], reasons: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = console()
    for whole in (False, True):
        part = [r for r in rows if r.whole_run == whole]
        title = (
            "Whole-run rows (averages over a full run or one of its stages; reported apart)"
            if whole
            else "Steady-state rows: cross-validated prediction against measured"
        )
        t = Table(title=title, show_edge=False)
        for col in (
            "run",
            "source",
            "stack",
            "family",
            "metric",
            "measured",
            "predicted",
            "error",
            "napkin",
            "factor from",
        ):
            t.add_column(
                col,
                justify="right" if col in ("measured", "predicted", "error", "napkin") else "left",
            )
        for r in part:
            t.add_row(
                r.id,
                r.source,
                r.stack,
                r.family,
                "s/step" if r.metric == "step_time_s" else "tokens/s/GPU",
                f"{r.measured:,.4g}",
                f"{r.predicted:,.4g}",
                f"{r.error:+.1%}",
                f"{r.napkin_error:+.1%}",
                r.factor_group,
            )
        c.print(t)
    s = stats["steady_state"]
    c.print(
        f"steady state, n={s['cv']['n']}: cross-validated median |error| "
        f"{pct(s['cv']['median_abs_error'])}, p90 {pct(s['cv']['p90_abs_error'])}; "
        f"napkin (45% MFU) median {pct(s['napkin']['median_abs_error'])}, "
        f"p90 {pct(s['napkin']['p90_abs_error'])}"
    )
    c.print(
        f"[dim]factors are g**{stats['shrink_weight']:g}: the fitted group factor shrunk toward "
        "the analytic model, the weight chosen from 0, 0.25, .., 1 by this same "
        "leave-one-source-out median[/]"
    )
    for key in ("source", "family", "stack"):
        t = Table(title=f"By {key} (steady state)", show_edge=False)
        for col in (key, "n", "CV median", "CV p90", "napkin median", "napkin p90"):
            t.add_column(col, justify="left" if col == key else "right")
        for g, v in stats[f"by_{key}"].items():
            t.add_row(
                g,
                str(v["cv"]["n"]),
                pct(v["cv"]["median_abs_error"]),
                pct(v["cv"]["p90_abs_error"]),
                pct(v["napkin"]["median_abs_error"]),
                pct(v["napkin"]["p90_abs_error"]),
            )
        c.print(t)
    c.print(f"checked {len(rows)} rows; not checked {len(skipped)}:")
    for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        c.print(f"  {n:3d}  {escape(why)}")
    for run_id, why in skipped.items():
        c.print(f"[dim]not checked: {run_id}: {escape(why)}[/]")
