"""Whole-run checks of the goodput model: published full runs on wall throughput, and
the published goodput anchors (advisor/data/goodput_anchors.yaml).

A full run's wall throughput is tokens trained / (device-hours x 3600). The model's
prediction is the cross-validated steady-state throughput of the row (advisor/crossval.py,
fitted without the row's own source) x the goodput the defaults give for the run's
scale and length; the napkin (45% MFU, no goodput) is beside it.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from advisor.catalog import load_catalog
from advisor.catalog.schema import Figure
from advisor.crossval import CvRow, abs_stats
from advisor.errors import DataError, first_field_error
from advisor.goodput import GoodputSettings, conditions, whole_run
from advisor.hardware import resolve_hardware

ANCHORS_FILE = Path(__file__).resolve().parent / "data" / "goodput_anchors.yaml"


class Measured(Figure):
    bound: Literal["above", "below", "about"]


class Anchor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    what: str
    accelerator: str
    devices: int
    params: float
    days: float
    measured: Measured
    conditions: dict[str, float | bool]
    assumed: str
    measure: Literal["goodput", "ettr"]
    band: tuple[float, float]
    why_band: str


class AnchorFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    anchors: list[Anchor]


@functools.lru_cache(maxsize=1)
def anchors() -> tuple[Anchor, ...]:
    raw = yaml.safe_load(ANCHORS_FILE.read_text(encoding="utf-8"))
    try:
        return tuple(AnchorFile.model_validate(raw).anchors)
    except ValidationError as e:
        raise DataError(first_field_error(ANCHORS_FILE, e)) from None


_SETTINGS = {"failures_per_node_day", "async_checkpoint"}


def anchor_goodput(a: Anchor, step_s: float = 10.0) -> float:
    """The model's goodput (or ETTR, as the anchor measures) for an anchor run under its
    published conditions."""
    cat = load_catalog()
    hw = resolve_hardware(cat, a.accelerator, a.devices, None, None)
    cond = a.conditions
    rate = cond.get("failures_per_node_day")
    s = GoodputSettings(
        node_mtbf_s=86400.0 / float(rate) if rate else None,
        async_checkpoint=bool(cond.get("async_checkpoint", False)),
    )
    c = conditions(s, hw, "on-demand", a.params)
    c = dataclasses.replace(c, **{k: float(v) for k, v in cond.items() if k not in _SETTINGS})
    g = whole_run(c, a.days * 86400.0, step_s)
    return float(g.ettr if a.measure == "ettr" else g.fraction)


def anchor_rows() -> list[dict[str, Any]]:
    out = []
    for a in anchors():
        g = anchor_goodput(a)
        m = a.measured
        out.append(
            {
                "id": a.id,
                "what": a.what,
                "devices": a.devices,
                "days": a.days,
                "measure": a.measure,
                "predicted": g,
                "measured": m.value,
                "bound": m.bound,
                "band": list(a.band),
                "within_band": a.band[0] <= g <= a.band[1],
                "why_band": a.why_band,
                "source": m.source,
                "assumed": a.assumed,
            }
        )
    return out


def wall_measured(raw: dict[str, str]) -> float | None:
    """Tokens per device-second over the whole run, where the row gives both figures."""
    try:
        tokens = float(raw.get("tokens_trained") or "nan")
        hours = float(raw.get("gpu_hours") or "nan")
    except ValueError:
        return None
    if not (np.isfinite(tokens) and np.isfinite(hours)) or hours <= 0:
        return None
    return tokens / (hours * 3600.0)


def wall_rows(cv: list[CvRow]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Full-run rows checked on wall throughput, and those that cannot be, with why."""
    from advisor.runs import load_runs

    by_id = {r.id: r for r in cv}
    cat = load_catalog()
    rows, skipped = [], {}
    for run in load_runs():
        if not (run.raw.get("run_type") or "").lower().startswith("full run"):
            continue
        wall = wall_measured(run.raw)
        if wall is None:
            skipped[run.id] = "no tokens trained and device-hours both given"
            continue
        r = by_id.get(run.id)
        if r is None or r.metric != "tokens_per_s_per_gpu":
            skipped[run.id] = f"no steady-state prediction ({run.reason or 'not scored'})"
            continue
        assert run.devices and run.accelerator and run.global_batch_tokens
        hw = resolve_hardware(cat, run.accelerator, run.devices, None, None)
        steady_s = float(run.raw["tokens_trained"]) / (r.predicted * run.devices)
        step_s = run.global_batch_tokens / (r.predicted * run.devices)
        params = float(run.raw.get("params") or 0.0)
        g = whole_run(conditions(GoodputSettings(), hw, "on-demand", params), steady_s, step_s)
        pred = r.predicted * float(g.fraction)
        rows.append(
            {
                "id": run.id,
                "source": run.source,
                "devices": run.devices,
                "measured": wall,
                "steady_predicted": r.predicted,
                "goodput": float(g.fraction),
                "predicted": pred,
                "error": pred / wall - 1,
                "steady_error": r.predicted / wall - 1,
                "napkin": r.napkin,
                "napkin_error": r.napkin / wall - 1,
            }
        )
    return rows, skipped


def whole_run_document(cv: list[CvRow]) -> dict[str, Any]:
    """The whole-run section of `advisor accuracy` (its --json key 'whole_run_wall')."""
    rows, skipped = wall_rows(cv)
    return {
        "method": "measured = tokens trained / (device-hours x 3600); predicted = the "
        "leave-one-source-out steady-state prediction x the default goodput for the run's "
        "devices and length (advisor/goodput.py); napkin = 45% MFU, no goodput",
        "checks": rows,
        "summary": {
            "cv": abs_stats([r["error"] for r in rows]),
            "steady_only": abs_stats([r["steady_error"] for r in rows]),
            "napkin": abs_stats([r["napkin_error"] for r in rows]),
        },
        "not_checked": skipped,
        "anchors": anchor_rows(),
    }
