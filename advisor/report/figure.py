"""Drawing plumbing for the report's figures: matplotlib settings (Agg, no pyplot
state, fixed `svg.hashsalt`, glyphs as paths), a figure context, log axes with SI
ticks, and the SVG serialiser that prefixes ids and strips what would stop a page
from scaling or trusting the figure (advisor/report/plots.py draws with these)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

RC: dict[str, Any] = {
    "svg.hashsalt": "advisor-report",
    "svg.fonttype": "path",
    "text.parse_math": False,
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 11.0,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "figure.dpi": 72,
    "path.simplify": False,
}


@contextmanager
def figure(width: float, height: float, ncols: int = 1) -> Iterator[tuple[Any, Any]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
        yield fig, axes if ncols > 1 else axes[0]


def to_svg(fig: Any, prefix: str) -> str:
    """Serialise a figure to an SVG element for inlining in HTML."""
    import matplotlib

    parts = [fig.get_suptitle()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        parts += [ax.get_title(loc="left") or ax.get_title()]
        parts += [f"x: {ax.get_xlabel()}", f"y: {ax.get_ylabel()}"]
    title = "; ".join(p.replace("\n", " ") for p in parts if p and not p.endswith(": "))
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r"<svg([^>]*?) width=\"[^\"]*\" height=\"[^\"]*\"", r"<svg\1", svg, count=1)
    svg = svg.replace("<svg", f'<svg class="plot" role="img" aria-label="{html.escape(title)}"', 1)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    if "<script" in svg.lower() or "<foreignobject" in svg.lower():
        raise AssertionError("a figure must not carry markup beyond SVG drawing")
    return svg.strip() + "\n"


def si_label(v: float, _pos: Any = None) -> str:
    """1, 10, 1k, 1M, 1B, 1T (and 0.1, 0.01) for log-axis ticks, without mathtext."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def log_axes(ax: Any, x: bool = True, y: bool = True) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for on, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if not on:
            continue
        axis.set_major_locator(LogLocator(base=10.0, numticks=12))
        axis.set_major_formatter(FuncFormatter(si_label))
        axis.set_minor_formatter(NullFormatter())
