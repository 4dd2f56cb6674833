"""Render a `ReportData` as HTML (self-contained), Markdown or JSON, and write it safely.

Templates live in `reports/templates/` of the repository, packaged inside the wheel
(`templates_dir`, advisor/resources.py). HTML is rendered with autoescaping on; the
page carries a Content Security Policy that forbids every fetch, so a report cannot
reach the network even if a template were wrong. Markdown escapes every value it
prints (`<`, `>`, `&`, `|`, backticks and emphasis characters), so a catalog name
cannot become markup there either.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from advisor.errors import DataError, UsageError

# Writing lives in advisor/files.py (every command that writes a file shares it); re-exported.
from advisor.files import check_destination, write_atomic  # noqa: F401
from advisor.model.memory import GIB
from advisor.report.build import PLOT_OPTIONS, ReportData
from advisor.units import format_bytes, format_duration, format_money, format_size

FORMATS = ("html", "md", "json")
EXTENSIONS = {"html": "html", "md": "md", "json": "json"}


def templates_dir() -> Path:
    """The report templates: inside the installed package, else `reports/templates/` of
    the source tree (advisor/resources.py)."""
    from advisor.resources import shipped_dir

    return shipped_dir("templates")


def _read_asset(name: str) -> str:
    path = templates_dir() / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"report template {path} not found; reinstall advisor") from e


def _pct(x: float, digits: int = 0) -> str:
    return f"{x:.{digits}%}"


def _num(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _sig(x: float, digits: int = 3) -> str:
    if abs(x) >= 10**digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _gib(x: float | None) -> str:
    """Memory in GiB (2^30 bytes), as `advisor estimate` and `recommend` print it."""
    return "?" if x is None else f"{x / GIB:,.1f} GiB"


def _layout(plan: Any) -> str:
    text = f"dp{plan.dp} tp{plan.tp} pp{plan.pp}"
    if plan.vpp > 1:
        text += f" v{plan.vpp}"
    text += f" z{plan.zero} mb{plan.micro_batch}"
    if plan.recompute != "none":
        text += f" rc:{plan.recompute}"
    return text


FILTERS = {
    "money": format_money,
    "duration": format_duration,
    "size": format_size,
    "bytes": format_bytes,
    "pct": _pct,
    "num": _num,
    "sig": _sig,
    "gib": _gib,
    "layout": _layout,
}


def _environment(markdown: bool) -> Any:
    import jinja2

    if markdown:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            autoescape=False,
            finalize=_md_finalize,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    else:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir())),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    env.filters.update(FILTERS)
    return env


_MD_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "\\": "\\\\",
    "\n": " ",
    "\r": " ",
}


def md_escape(value: Any) -> str:
    """Text that Markdown (GitHub-flavoured, in tables too) shows as it is."""
    return "".join(_MD_ESCAPES.get(ch, ch) for ch in str(value))


def _md_finalize(value: Any) -> Any:
    from markupsafe import Markup

    if isinstance(value, Markup):
        return str(value)
    return md_escape(value)


def _figures(data: ReportData) -> dict[str, str]:
    from advisor.report import plots

    figs: dict[str, str] = {}
    top = data.options[:PLOT_OPTIONS]
    if data.points:
        figs["cost_time"] = plots.cost_time(data.points, data.query)
    if top:
        figs["memory"] = plots.memory(top)
        figs["step_time"] = plots.step_time(top)
    if data.sensitivity:
        figs["sensitivity"] = plots.sensitivity(data.sensitivity[0])
    if data.calibration is not None and data.calibration.curves:
        figs["calibration"] = plots.calibration(data.calibration)
    if data.accuracy is not None and data.accuracy.checks:
        figs["accuracy"] = plots.accuracy(data.accuracy.checks)
    return figs


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_html(data: ReportData) -> str:
    from markupsafe import Markup

    env = _environment(markdown=False)
    script = _read_asset("report.js")
    figs = {k: Markup(v) for k, v in _figures(data).items()}
    page = env.get_template("report.html.j2").render(
        d=data,
        css=Markup(_read_asset("report.css")),
        script=Markup(script),
        script_hash=_csp_hash(script),
        figs=figs,
        plot_options=PLOT_OPTIONS,
    )
    return str(page)


def render_md(data: ReportData) -> str:
    env = _environment(markdown=True)
    return str(env.get_template("report.md.j2").render(d=data, plot_options=PLOT_OPTIONS))


def render_json(data: ReportData) -> str:
    return json.dumps(data.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"


def render(data: ReportData, fmt: str) -> str:
    if fmt == "html":
        return render_html(data)
    if fmt == "md":
        return render_md(data)
    if fmt == "json":
        return render_json(data)
    raise UsageError(f"unknown format '{fmt}'; choose from: {', '.join(FORMATS)}")
