"""The evidence behind an answer: every option on cost against time (with the Pareto
front), the local calibration, accuracy on the published runs, the catalog figures used
with their sources, and the assumptions made."""

from __future__ import annotations

import re
from typing import Any

from advisor.catalog import Catalog, iter_figures
from advisor.catalog.schema import DeviceProfile
from advisor.errors import AdvisorError
from advisor.estimate import CHINCHILLA_TOKENS_PER_PARAM
from advisor.model.spec import TrainingSpec
from advisor.recommend import Option, Query, RecommendOut
from advisor.report.data import (
    AccuracyData,
    Calibration,
    CalibrationCurve,
    Point,
    SourceRow,
)
from advisor.report.sensitivity import option_profile

# --- cost against time ------------------------------------------------------------------------


def points(constrained: list[Option], context: list[Option], q: Query) -> list[Point]:
    """Every option of the unconstrained search, marked feasible (and ranked) or not,
    with the Pareto front (no other feasible option is both cheaper and faster)."""
    ranks = {(o.offering, o.nodes): o.rank for o in constrained}
    pts: list[Point] = []
    seen: set[tuple[str, int]] = set()
    for o in [*constrained, *context]:
        key = (o.offering, o.nodes)
        if key in seen:
            continue
        seen.add(key)
        cost = o.cost_usd or 0.0
        feasible = (q.budget_usd is None or cost <= q.budget_usd) and (
            q.deadline_s is None or (o.wall_time_s or o.time_to_train_s) <= q.deadline_s
        )
        pts.append(
            Point(
                label=f"{o.offering} x{o.nodes}",
                offering=o.offering,
                nodes=o.nodes,
                accelerator=str(o.hardware["accelerator"]),
                devices=int(o.hardware["devices"]),
                time_s=o.wall_time_s or o.time_to_train_s,
                cost_usd=cost,
                feasible=feasible,
                pareto=False,
                rank=ranks.get(key),
            )
        )
    front = sorted((p for p in pts if p.feasible), key=lambda p: (p.time_s, p.cost_usd))
    best_cost = float("inf")
    for p in front:
        if p.cost_usd < best_cost:
            p.pareto = True
            best_cost = p.cost_usd
    return pts


# --- calibration, accuracy, sources -----------------------------------------------------------


def calibration(
    catalog: Catalog, profile: DeviceProfile, file: str, options: list[Option]
) -> Calibration:

    def curve(kind: str, dtype: str | None, c: Any) -> CalibrationCurve:
        return CalibrationCurve(
            kind=kind,
            dtype=dtype,
            points=list(c.points),
            max_efficiency=c.max_efficiency.value,
            source=catalog.source_of(c.max_efficiency),
            as_of=c.max_efficiency.as_of,
        )

    curves = [curve("matmul", dtype, c) for dtype, c in sorted(profile.matmul.items())]
    if profile.memory_bandwidth is not None:
        curves.append(curve("memory", None, profile.memory_bandwidth))
    used = [o.rank for o in options if o.hardware.get("accelerator") == profile.accelerator]
    notes: list[str] = []
    if not used:
        notes.append(
            f"None of the options shown runs on {profile.accelerator}, so this profile "
            "changed no number in this report."
        )
    if not any(c.points for c in curves):
        notes.append("The profile has no measured points: efficiency is flat at its maximum.")
    return Calibration(
        profile=profile.id,
        accelerator=profile.accelerator,
        file=file,
        curves=curves,
        used_by=used,
        notes=notes,
    )


def accuracy(catalog: Catalog) -> AccuracyData | None:
    """The cross-validated check of `advisor accuracy`, steady-state rows: each row
    predicted with the correction fitted without its own source, the napkin beside it."""
    from advisor.crossval import base_predictions, cross_validate, shrink_weight
    from advisor.crossval import summary as cv_summary

    try:
        preds, skipped = base_predictions()
        weight = shrink_weight(preds)
        rows = [r for r in cross_validate(preds, weight) if not r.whole_run]
    except AdvisorError:
        return None
    stats = cv_summary(rows)

    def line(s: dict[str, Any]) -> dict[str, float]:
        return {
            "n": s["cv"]["n"],
            "median_abs_error": s["cv"]["median_abs_error"],
            "p90_abs_error": s["cv"]["p90_abs_error"],
            "napkin_median_abs_error": s["napkin"]["median_abs_error"],
        }

    summary = {src: line(s) for src, s in stats["by_source"].items()}
    summary["all"] = line(stats["steady_state"])
    return AccuracyData(
        checks=rows,
        summary=summary,
        note=(
            f"Measured training runs from papers and benchmark logs shipped with advisor "
            f"({len(rows)} steady-state rows checked, {len(skipped)} listed by 'advisor "
            "accuracy' with the reason they cannot be). Each row is predicted held out: the "
            "correction per stack and accelerator family is fitted without the row's own "
            f"source (leave-one-source-out; shrunk toward the model as g**{weight:g}). The "
            "napkin is 6N + 12·L·s·h FLOPs per token at 45% of the dense peak. The A100 "
            "profile's three efficiency numbers are fitted on the Megatron-LM 2021 and "
            "Korthikanti 2022 rows, so those two sources are not fully held out."
        ),
    )


def _entry_rows(catalog: Catalog, kind: str, entry: Any, refs: dict[str, int]) -> list[SourceRow]:
    rows = []
    for path, fig in iter_figures(entry):
        src = catalog.source_of(fig)
        rows.append(
            SourceRow(
                kind=kind,
                entry=entry.id,
                field=path,
                value=fig.value,
                source=src,
                ref=refs.setdefault(src, len(refs) + 1),
                as_of=fig.as_of,
                published=fig.published,
                derived=fig.derived,
                note=fig.note,
                conflict=fig.conflict,
            )
        )
    return rows


def sources(
    catalog: Catalog, options: list[Option], profile: DeviceProfile | None
) -> list[SourceRow]:
    """Every figure of every catalog entry behind the options shown: offering,
    accelerator, its chip link and the node network, and the profiles the model read
    (the option's own and any an assumption says figures were carried over from)."""
    wanted: list[tuple[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, entry: Any) -> None:
        if entry is not None and (kind, entry.id) not in seen:
            seen.add((kind, entry.id))
            wanted.append((kind, entry))

    for o in options:
        off = catalog.offering(o.offering)
        acc = catalog.accelerator(off.accelerator)
        add("offering", off)
        add("accelerator", acc)
        if acc.intra_node_link:
            add("network", catalog.networks.get(acc.intra_node_link))
        if off.node_network:
            add("network", catalog.networks.get(off.node_network))
        add("profile", option_profile(catalog, acc.id, profile))
        text = " ".join(o.assumptions)
        for pid, prof in sorted(catalog.profiles.items()):
            if re.search(rf"(?<![\w.-]){re.escape(pid)}(?![\w.-])", text):
                add("profile", prof)
                published = catalog.profiles.get(pid.removesuffix("-fit") + "-published")
                if pid.endswith("-fit"):
                    add("profile", published)
    rows: list[SourceRow] = []
    refs: dict[str, int] = {}
    for kind, entry in wanted:
        rows += _entry_rows(catalog, kind, entry, refs)
    return rows


def assumptions(out: RecommendOut, options: list[Option], training: TrainingSpec) -> list[str]:
    seen: dict[str, None] = {}
    if training.tokens is None:
        seen[f"tokens = {CHINCHILLA_TOKENS_PER_PARAM} x parameters (Chinchilla)"] = None
    if training.global_batch_tokens is None:
        seen["global batch from GPT-3 Table 2.1 for the nearest model size"] = None
    seen[
        f"prices: {out.query.pricing}, per node-hour as listed in the catalog; "
        "storage, egress and idle time are not included"
    ] = None
    for o in options:
        for a in o.assumptions:
            seen[a] = None
    seen[
        "figures derived from 'the median of measured parts' use every measured profile "
        "shipped in the catalog ('advisor catalog list profiles')"
    ] = None
    return list(seen)
