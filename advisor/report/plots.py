"""The report's figures as inline SVG, reproducible byte for byte.

matplotlib (Agg, no pyplot state) with a fixed `svg.hashsalt`, no date metadata and
glyphs drawn as paths (no fonts needed to view them). Each SVG's ids get a per-figure
prefix so several can share one HTML page, and comments, the XML prolog and the fixed
size are removed so the page can scale them (the plumbing: advisor/report/figure.py).
Only ids, numbers and our own words are drawn: no user-supplied text reaches a figure.
"""

from __future__ import annotations

import math

import numpy as np

from advisor.crossval import CvRow
from advisor.model.device import EfficiencyCurve
from advisor.model.memory import GIB
from advisor.recommend import Option, Query
from advisor.report.build import Calibration, OptionSensitivity, Point, label
from advisor.report.figure import figure, log_axes, si_label, to_svg

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
MEMORY_PARTS = (
    ("weights", "weights"),
    ("gradients", "gradients"),
    ("optimizer", "optimizer states"),
    ("activations", "activations"),
    ("other", "overhead and gathered"),
)
STEP_LABELS = {
    "compute": "compute (matmul)",
    "memory_bound": "memory-bound",
    "tp_comm": "TP comm",
    "pp_bubble": "PP bubble",
    "pp_comm": "PP comm",
    "dp_comm_exposed": "DP comm exposed",
    "optimizer": "optimizer",
}


OFF_CHART = 30.0  # options costing or taking more than this x the feasible range are not drawn


def cost_time(points: list[Point], q: Query) -> str:
    """Cost against time to train, log-log: options outside the limits in grey,
    feasible ones in blue, the Pareto front joined, the budget and deadline as lines."""
    with figure(8.0, 5.0) as (fig, ax):
        ok = [p for p in points if p.feasible]
        # Scale the chart to the feasible options (or, with none, the ten cheapest).
        ref = ok or sorted(points, key=lambda p: p.cost_usd)[:10]
        cost_cap = OFF_CHART * max([p.cost_usd for p in ref] + [q.budget_usd or 0.0])
        time_cap = OFF_CHART * max([p.time_s for p in ref] + [q.deadline_s or 0.0])
        over = [p for p in points if not p.feasible]
        drawn = [p for p in over if p.cost_usd <= cost_cap and p.time_s <= time_cap]
        hidden = len(over) - len(drawn)
        over = drawn
        front = sorted((p for p in ok if p.pareto), key=lambda p: p.time_s)
        if over:
            ax.scatter(
                [p.time_s / 3600 for p in over],
                [p.cost_usd for p in over],
                s=14,
                color="#bbbbbb",
                label="outside budget or deadline",
                zorder=2,
            )
        if ok:
            ax.scatter(
                [p.time_s / 3600 for p in ok],
                [p.cost_usd for p in ok],
                s=16,
                color=PALETTE[0],
                label="within budget and deadline",
                zorder=3,
            )
        if front:
            ax.plot(
                [p.time_s / 3600 for p in front],
                [p.cost_usd for p in front],
                "-o",
                color=PALETTE[1],
                markersize=5,
                linewidth=1.5,
                label="Pareto front (nothing cheaper and faster)",
                zorder=4,
            )
        top = [p for p in ok if p.rank == 1]
        if top:
            p = top[0]
            ax.scatter(
                [p.time_s / 3600],
                [p.cost_usd],
                s=140,
                marker="*",
                color=PALETTE[3],
                zorder=5,
                label=f"#1 {p.label}",
            )
        if q.budget_usd is not None:
            ax.axhline(q.budget_usd, color=PALETTE[3], linestyle="--", linewidth=1)
            ax.annotate(
                f"budget {si_label(q.budget_usd)} USD",
                (0.01, q.budget_usd),
                xycoords=("axes fraction", "data"),
                xytext=(0, 3),
                textcoords="offset points",
                color=PALETTE[3],
            )
        if q.deadline_s is not None:
            ax.axvline(q.deadline_s / 3600, color=PALETTE[4], linestyle="--", linewidth=1)
            ax.annotate(
                f"deadline {q.deadline_s / 3600:,.0f} h",
                (q.deadline_s / 3600, 0.98),
                xycoords=("data", "axes fraction"),
                xytext=(3, -10),
                textcoords="offset points",
                color=PALETTE[4],
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_axes(ax)
        xlabel = "time to train (hours, log scale)"
        if hidden:
            xlabel += (
                f"\n{hidden} option(s) costing or taking over {OFF_CHART:g}x the most of the "
                f"{'feasible' if ok else 'cheapest'} ones are off the chart"
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("cost (USD, log scale)")
        ax.set_title("Cost against time for every option searched", loc="left")
        fig.legend(loc="outside lower center", ncols=2)
        return to_svg(fig, "fig-cost-time")


def _bar_labels(options: list[Option]) -> list[str]:
    return [f"{label(o)}\n{o.hardware['devices']} x {o.hardware['accelerator']}" for o in options]


def memory(options: list[Option]) -> str:
    """Memory per device, stacked by part, with each device's capacity marked."""
    opts = list(reversed(options))
    with figure(8.0, 1.3 + 0.55 * len(opts)) as (fig, ax):
        y = np.arange(len(opts))
        left = np.zeros(len(opts))
        for (key, name), color in zip(MEMORY_PARTS, PALETTE, strict=False):
            vals = np.array([getattr(o.memory_per_device_bytes, key) / GIB for o in opts])
            ax.barh(y, vals, left=left, color=color, label=name, height=0.6, zorder=3)
            left += vals
        caps = [(o.memory_capacity_bytes or 0) / GIB for o in opts]
        ax.scatter(
            caps,
            y,
            marker="|",
            s=600,
            color="black",
            linewidths=2,
            zorder=4,
            label="device capacity",
        )
        ax.set_yticks(y, _bar_labels(opts))
        ax.set_xlabel("memory per device (GiB, 2^30 bytes)")
        ax.set_xlim(0, max([*caps, *left, 1.0]) * 1.05)
        ax.set_title("Memory per device, by part, against capacity", loc="left")
        ax.grid(axis="y", visible=False)
        fig.legend(loc="outside lower center", ncols=3, markerscale=0.5)
        return to_svg(fig, "fig-memory")


def step_time(options: list[Option]) -> str:
    """Where a training step goes: each part's share, with the step time written beside."""
    opts = list(reversed(options))
    with figure(8.0, 1.3 + 0.55 * len(opts)) as (fig, ax):
        y = np.arange(len(opts))
        left = np.zeros(len(opts))
        keys = list(STEP_LABELS) + sorted(
            {k for o in opts for k in o.breakdown_s} - set(STEP_LABELS)
        )
        for key, color in zip(keys, PALETTE * 2, strict=False):
            vals = np.array([100 * o.breakdown_s.get(key, 0.0) / o.step_time_s for o in opts])
            ax.barh(
                y,
                vals,
                left=left,
                color=color,
                label=STEP_LABELS.get(key, key.replace("_", " ")),
                height=0.6,
                zorder=3,
            )
            left += vals
        for yi, o in zip(y, opts, strict=True):
            ax.annotate(
                f"{o.step_time_s:.3g} s/step",
                (100, yi),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
            )
        ax.set_yticks(y, _bar_labels(opts))
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of step time (%)")
        ax.set_title("Step-time breakdown", loc="left")
        ax.grid(axis="y", visible=False)
        fig.legend(loc="outside lower center", ncols=4)
        return to_svg(fig, "fig-step")


def sensitivity(s: OptionSensitivity) -> str:
    """Change of time and cost of one option under each scenario, against the estimate."""
    rows = s.scenarios[1:]
    base = s.scenarios[0]
    with figure(8.0, 0.8 + 0.42 * len(rows), ncols=2) as (fig, axes):
        y = np.arange(len(rows))[::-1]
        for ax, what, unit in (
            (axes[0], "time_s", "time to train"),
            (axes[1], "cost_usd", "cost"),
        ):
            ref = getattr(base, what)
            vals = [100 * (getattr(r, what) / ref - 1) if ref else 0.0 for r in rows]
            colors = [PALETTE[3] if v > 0 else PALETTE[2] for v in vals]
            ax.barh(y, vals, color=colors, height=0.6, zorder=3)
            for yi, v in zip(y, vals, strict=True):
                ax.annotate(
                    f"{v:+.0f}%",
                    (v, yi),
                    xytext=(3 if v >= 0 else -3, 0),
                    textcoords="offset points",
                    ha="left" if v >= 0 else "right",
                    va="center",
                )
            ax.axvline(0, color="black", linewidth=0.8)
            lim = max([abs(v) for v in vals] + [5.0]) * 1.35
            ax.set_xlim(-lim, lim)
            ax.set_yticks(y, [r.name for r in rows])
            ax.set_xlabel(f"change in {unit} against the estimate (%)")
            ax.grid(axis="y", visible=False)
        axes[1].set_yticklabels([])
        fig.suptitle(f"Sensitivity of {s.label}", x=0.01, ha="left", fontweight="bold")
        return to_svg(fig, "fig-sensitivity")


def calibration(cal: Calibration) -> str:
    """Measured efficiency against op size, with the curve the model interpolates."""
    mm = [c for c in cal.curves if c.kind == "matmul"]
    mem = [c for c in cal.curves if c.kind == "memory"]
    panels = [(mm, "matmul op size (FLOP, 2·m·n·k)", "Matmul")] if mm else []
    if mem:
        panels.append((mem, "bytes moved per op", "Memory bandwidth"))
    with figure(8.0, 3.8, ncols=max(1, len(panels))) as (fig, axes):
        axes = list(axes) if isinstance(axes, np.ndarray) else [axes]
        for ax, (curves, xlabel, name) in zip(axes, panels, strict=False):
            for c, color in zip(curves, PALETTE, strict=False):
                tag = c.dtype or "stream"
                curve = EfficiencyCurve(
                    c.max_efficiency,
                    tuple(p[0] for p in c.points),
                    tuple(p[1] for p in c.points),
                )
                if c.points:
                    lo = math.log10(c.points[0][0]) - 0.5
                    hi = math.log10(c.points[-1][0]) + 0.5
                    xs = np.logspace(lo, hi, 200)
                    ax.scatter(
                        [p[0] for p in c.points],
                        [p[1] for p in c.points],
                        color=color,
                        s=18,
                        zorder=3,
                        label=f"{tag} measured",
                    )
                    ax.plot(xs, curve(xs), color=color, linewidth=1.2, label=f"{tag} model curve")
                else:
                    ax.axhline(c.max_efficiency, color=color, label=f"{tag} flat (no points)")
            ax.set_xscale("log")
            log_axes(ax, y=False)
            ax.set_ylim(0, max([c.max_efficiency for c in curves] + [1.0]) * 1.08)
            ax.set_xlabel(f"{xlabel}, log scale")
            ax.set_ylabel("efficiency (fraction of peak)")
            ax.set_title(name, loc="left")
            ax.legend(loc="lower right")
        fig.suptitle(f"Calibration: profile {cal.profile}", x=0.01, ha="left", fontweight="bold")
        return to_svg(fig, "fig-calibration")


def accuracy(checks: list[CvRow]) -> str:
    """Held-out prediction against measured for the published runs, per metric, on log
    axes, one colour per source."""
    metrics = (
        ("tokens_per_s_per_gpu", "tokens/s per GPU"),
        ("step_time_s", "step time (s)"),
    )
    groups = sorted({c.source for c in checks})
    with figure(8.0, 3.8, ncols=2) as (fig, axes):
        for ax, (metric, unit) in zip(axes, metrics, strict=True):
            rows = [c for c in checks if c.metric == metric]
            if not rows:
                ax.set_visible(False)
                continue
            lo = min(min(c.measured, c.predicted) for c in rows) / 1.5
            hi = max(max(c.measured, c.predicted) for c in rows) * 1.5
            xs = np.array([lo, hi])
            ax.fill_between(xs, xs * 0.9, xs * 1.1, color="#eeeeee", label="±10%", zorder=1)
            ax.plot(xs, xs, color="black", linewidth=0.8, label="predicted = measured", zorder=2)
            for i, g in enumerate(groups):
                pts = [c for c in rows if c.source == g]
                if pts:
                    color = PALETTE[i % len(PALETTE)]
                    ax.scatter(
                        [c.measured for c in pts],
                        [c.predicted for c in pts],
                        facecolors=color if i < len(PALETTE) else "white",
                        edgecolors=color,
                        s=24,
                        zorder=3,
                        label=g,
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            log_axes(ax)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xlabel(f"measured {unit}, log scale")
            ax.set_ylabel(f"predicted {unit}, log scale")
            ax.legend(loc="upper left")
        fig.suptitle(
            "Accuracy: held-out prediction against measured, published runs",
            x=0.01,
            ha="left",
            fontweight="bold",
        )
        return to_svg(fig, "fig-accuracy")
