"""`advisor validate --serving`: the table and JSON of advisor/serve/validate.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advisor.cli.common import console, print_json


def run_serving(
    prof: Any,
    cat: Any,
    device: str,
    quick: bool,
    out: Path | None,
    json_out: bool,
    threads: int | None = None,
) -> None:
    from advisor.benchmarks.results import atomic_write_text
    from advisor.serve import validate as sv

    doc = sv.serving_check(prof, cat, device, quick, threads)
    if out is not None:
        atomic_write_text(out, json.dumps(doc, indent=1) + "\n")
    if json_out:
        print_json(doc)
        return
    from rich.table import Table

    c = console()
    t = Table(title=f"Serving on {device}: predicted against measured tokens/s", show_edge=False)
    for col in (
        "phase",
        "precision",
        "config",
        "batch",
        "context",
        "measured",
        "predicted",
        "error",
    ):
        t.add_column(col, justify="left" if col in ("phase", "precision", "config") else "right")
    for r in doc["checks"]:
        t.add_row(
            r["phase"],
            r["precision"],
            r["config"],
            str(r["batch"]),
            str(r["context"]),
            f"{r['measured_tokens_per_s']:,.0f}",
            f"{r['predicted_tokens_per_s']:,.0f}",
            f"{r['error']:+.1%}",
        )
    c.print(t)
    if doc["median_abs_error"] is not None:
        c.print(
            f"median |error| {doc['median_abs_error']:.1%} (tolerance {doc['tolerance']:.0%}): "
            + ("pass" if doc["passed"] else "fail")
        )
    c.print(f"[dim]{doc['method']}[/]")
