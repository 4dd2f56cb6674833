"""Tables of the serving section of `advisor accuracy`."""

from __future__ import annotations

from typing import Any

from advisor.cli.common import console

UNIT = {"throughput": "out tok/s", "tpot": "s/token", "ttft": "s"}


def print_serving(doc: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    c = console()
    t = Table(
        title="Serving: published rows, cross-validated prediction against measured",
        show_edge=False,
    )
    for col in ("run", "engine", "metric", "measured", "predicted", "error", "napkin", "fit"):
        t.add_column(
            col, justify="right" if col in ("measured", "predicted", "error", "napkin") else "left"
        )
    for r in doc["checks"]:
        t.add_row(
            r["id"] + (" *" if r["lengths_assumed"] else ""),
            r["engine"],
            UNIT[r["metric"]],
            f"{r['measured']:,.4g}",
            f"{r['predicted']:,.4g}",
            f"{r['error']:+.1%}",
            f"{r['napkin_error']:+.1%}",
            r["fitted_on"],
        )
    c.print(t)
    c.print("[dim]* lengths not published (ShareGPT, batch-1 rows): inference_rows.yaml[/]")
    s = doc["summary"]
    tgt = doc["targets"]
    for m in ("throughput", "tpot", "ttft"):
        cv, nap = s[m]["cv"], s[m]["napkin"]
        if not cv.get("n"):
            continue
        c.print(
            f"serving {m}, n={cv['n']}: cross-validated median |error| "
            f"{cv['median_abs_error']:.1%} (target {tgt[m]:.0%}), p90 {cv['p90_abs_error']:.1%}; "
            f"napkin median {nap['median_abs_error']:.1%}"
        )
    t = Table(title="Serving by engine (cross-validated median |error|)", show_edge=False)
    for col in ("engine", "metric", "n", "CV median", "napkin median"):
        t.add_column(col, justify="left" if col in ("engine", "metric") else "right")
    for m in ("throughput", "tpot", "ttft"):
        for g, v in s[m]["by"]["engine"].items():
            if v["cv"].get("n"):
                t.add_row(
                    g,
                    m,
                    str(v["cv"]["n"]),
                    f"{v['cv']['median_abs_error']:.1%}",
                    f"{v['napkin']['median_abs_error']:.1%}",
                )
    c.print(t)
    for run_id, why in doc["not_checked"].items():
        c.print(f"[dim]serving row not checked: {run_id}: {escape(why)}[/]")
    c.print(f"[dim]{escape(doc['method'])}[/]")
