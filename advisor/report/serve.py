"""A self-contained HTML (or Markdown) report of `advisor serve`: the question, the
ranked options or the closest ones, the assumptions, and how well the serving model
predicted the published serving rows (cross-validated)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from advisor.report.render import write_atomic

COLUMNS = (
    ("rank", "#"),
    ("offering", "offering"),
    ("accelerator", "accelerator"),
    ("devices", "devices"),
    ("tp", "tp"),
    ("replicas", "replicas"),
    ("weights", "weights"),
    ("kv_cache", "KV"),
    ("max_batch", "largest batch"),
    ("ttft_s", "TTFT"),
    ("tpot_s", "TPOT"),
    ("output_tokens_per_s", "output tok/s"),
    ("price_per_hour_usd", "$/h"),
    ("cost_per_million_output_tokens_usd", "$/M output tokens"),
)
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    "table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;"
    "text-align:right}td:nth-child(2),th:nth-child(2){text-align:left}.note{color:#555}"
)


def _cell(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if key in ("ttft_s", "tpot_s"):
        return f"{v * 1e3:,.1f} ms"
    if key == "output_tokens_per_s":
        return f"{v:,.0f}"
    if key in ("price_per_hour_usd", "cost_per_million_output_tokens_usd"):
        return f"${v:,.3f}"
    return str(v)


def _rows(result: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if result["options"]:
        return "Options meeting the SLOs, cheapest per million output tokens first", result[
            "options"
        ]
    return "No option meets the SLOs; the closest", result["closest"]


def _accuracy_lines(acc: dict[str, Any] | None) -> list[str]:
    if not acc:
        return []
    out = []
    for m, target in acc["targets"].items():
        cv, nap = acc["summary"][m]["cv"], acc["summary"][m]["napkin"]
        if cv.get("n"):
            out.append(
                f"{m}: cross-validated median |error| {cv['median_abs_error']:.1%} over "
                f"{cv['n']} published rows (target {target:.0%}); napkin "
                f"{nap['median_abs_error']:.1%}"
            )
    return out


def render_serve_html(result: dict[str, Any], accuracy: dict[str, Any] | None) -> str:
    e = html.escape
    q = result["query"]
    title, rows = _rows(result)
    head = "".join(f"<th>{e(label)}</th>" for _, label in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(_cell(k, o.get(k)))}</td>" for k, _ in COLUMNS) + "</tr>"
        for o in rows
    )
    query = ", ".join(f"{k} {v}" for k, v in q.items() if v is not None)
    notes = "".join(f"<li>{e(n)}</li>" for n in result["notes"])
    acc = "".join(f"<li>{e(x)}</li>" for x in _accuracy_lines(accuracy))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>advisor serve: {e(str(q['model']))}</title><style>{STYLE}</style></head><body>"
        f"<h1>Serving {e(str(q['model']))}</h1><p>{e(query)}</p>"
        f"<h2>{e(title)}</h2><table><tr>{head}</tr>{body}</table>"
        f"<h2>How well the serving model predicts</h2><ul>{acc}</ul>"
        f"<h2>Notes</h2><ul class=note>{notes}</ul></body></html>\n"
    )


def render_serve_md(result: dict[str, Any], accuracy: dict[str, Any] | None) -> str:
    title, rows = _rows(result)
    lines = [f"# Serving {result['query']['model']}", "", f"## {title}", ""]
    lines.append("| " + " | ".join(label for _, label in COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for o in rows:
        lines.append("| " + " | ".join(_cell(k, o.get(k)) for k, _ in COLUMNS) + " |")
    lines += ["", "## How well the serving model predicts", ""]
    lines += [f"- {x}" for x in _accuracy_lines(accuracy)]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines) + "\n"


def write_serve_report(path: Path, result: dict[str, Any], accuracy: dict[str, Any] | None) -> None:
    md = path.suffix.lower() in (".md", ".markdown")
    text = render_serve_md(result, accuracy) if md else render_serve_html(result, accuracy)
    write_atomic(path, text)
