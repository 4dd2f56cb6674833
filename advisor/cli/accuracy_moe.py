"""The mixture-of-experts section of `advisor accuracy` (advisor/moe_fit.py)."""

from __future__ import annotations

from typing import Any

from advisor.cli.common import console, pct


def moe_document(dense_preds: Any, dense_weight: float) -> dict[str, Any]:
    """The MoE rows cross-validated (leave one model out, and leave one source out)."""
    from advisor.moe_fit import moe_cross_validate, moe_summary

    rows, weight = moe_cross_validate(dense_preds, dense_weight)
    return {
        "method": "MoE rows: analytic model x the dense stack/family factor fitted without "
        "the row's source x a MoE excess e**w fitted on the OTHER models' MoE rows (leave one "
        "model out; every MoE row shares one source, so leave-one-source-out leaves no MoE "
        "row to fit e and is reported beside it); w chosen from 0, 0.25, .., 1 by the same "
        "median error",
        "checks": [r.model_dump() for r in rows],
        "summary": moe_summary(rows, weight),
    }


def print_moe(doc: dict[str, Any]) -> None:
    from rich.table import Table

    c = console()
    t = Table(
        title="Mixture-of-experts rows (force-balanced expert load): cross-validated",
        show_edge=False,
    )
    cols = ("run", "model", "family", "ep", "measured", "predicted", "error", "LOSO", "napkin")
    for col in cols:
        t.add_column(col, justify="left" if col in ("run", "model", "family") else "right")
    for r in doc["checks"]:
        t.add_row(
            r["id"],
            r["model"],
            r["family"],
            str(r["plan"].get("ep", 1)),
            f"{r['measured']:,.4g}",
            f"{r['predicted']:,.4g}",
            f"{r['error']:+.1%}",
            f"{r['loso_error']:+.1%}",
            f"{r['napkin_error']:+.1%}",
        )
    c.print(t)
    s = doc["summary"]
    lomo, loso, nap = s["leave_one_model_out"], s["leave_one_source_out"], s["napkin"]
    c.print(
        f"MoE, n={lomo['n']} (tokens/s/GPU): leave-one-model-out median |error| "
        f"{pct(lomo['median_abs_error'])}, p90 {pct(lomo['p90_abs_error'])}; "
        f"leave-one-source-out {pct(loso['median_abs_error'])}; napkin (45% MFU of "
        f"6N-active) median {pct(nap['median_abs_error'])}"
    )
    c.print(f"[bold]note:[/] {s['note']}")
