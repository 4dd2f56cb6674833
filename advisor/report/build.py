"""Collect everything a report shows into one validated `ReportData`.

Pure computation over the library: a recommendation (the same call `advisor
recommend` makes), the same search without budget and deadline (to draw what the
limits cut off), a sensitivity study re-scored through the model, the published-run
accuracy checks, and every catalog figure behind the options shown.

Ranges. The cost and time ranges of an option are its `range`: the 10th to 90th
percentile of the leave-one-source-out error on comparable published runs
(advisor/fitted.py). The sensitivity study (efficiency x0.9..x1.1) is still drawn,
as what-ifs, not as the range.
"""

from __future__ import annotations

from typing import Any

import advisor
from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.recommend import recommend
from advisor.report.answer import answer, measured_ranges
from advisor.report.data import (
    CONTEXT_LIMIT,
    EFFICIENCY_FACTORS,
    PLOT_OPTIONS,
    PRICE_FACTORS,
    RANGE_FACTORS,
    SENSITIVITY_OPTIONS,
    TIE_MARGIN,
    AccuracyData,
    Answer,
    Calibration,
    CalibrationCurve,
    OptionSensitivity,
    Point,
    Range,
    ReportData,
    Scenario,
    ScenarioWinner,
    SourceRow,
    label,
)
from advisor.report.evidence import accuracy, assumptions, calibration, points, sources
from advisor.report.sensitivity import option_profile, scale_efficiency, sensitivity
from advisor.report.wall_time import wall_time_rows

__all__ = [
    "CONTEXT_LIMIT",
    "EFFICIENCY_FACTORS",
    "PLOT_OPTIONS",
    "PRICE_FACTORS",
    "RANGE_FACTORS",
    "SENSITIVITY_OPTIONS",
    "TIE_MARGIN",
    "AccuracyData",
    "Answer",
    "Calibration",
    "CalibrationCurve",
    "OptionSensitivity",
    "Point",
    "Range",
    "ReportData",
    "Scenario",
    "ScenarioWinner",
    "SourceRow",
    "accuracy",
    "answer",
    "assumptions",
    "build_report",
    "calibration",
    "label",
    "measured_ranges",
    "option_profile",
    "points",
    "scale_efficiency",
    "sensitivity",
    "sources",
]


# --- the whole report -------------------------------------------------------------------------


def build_report(
    spec: ModelSpec,
    training: TrainingSpec,
    catalog: Catalog,
    *,
    profile_file: str | None = None,
    **kwargs: Any,
) -> ReportData:
    """Run the recommendation and collect the report. `kwargs` are `recommend`'s."""
    top = int(kwargs.pop("top", 10))
    profile: DeviceProfile | None = kwargs.get("profile")
    kwargs["suggest"] = False  # nothing fits: the one-line error, as before what_fits.py
    out = recommend(spec, training, catalog, top=CONTEXT_LIMIT, **kwargs)
    free = dict(kwargs, budget=None, deadline_s=None)
    context = recommend(spec, training, catalog, top=CONTEXT_LIMIT, **free)
    over = not out.options
    table = (out.options if not over else context.options)[:top]
    query = out.query.model_copy(update={"top": top})
    pts = points(out.options, context.options, query)
    sens, winners = sensitivity(spec, training, catalog, table, query, profile)
    acc = accuracy(catalog)
    ans = answer(out.model_copy(update={"query": query}), table, sens, acc)
    cal = (
        calibration(catalog, profile, profile_file or profile.id, table)
        if profile is not None
        else None
    )
    src = sources(catalog, table, profile)
    dates = [r.as_of for r in src]
    return ReportData(
        title=f"Training hardware for {spec.name}",
        advisor_version=advisor.__version__,
        query=query,
        model=spec.model_dump(exclude_none=True),
        options=table,
        options_over_limits=over,
        feasible_options=out.feasible_options,
        offerings_searched=out.offerings_searched,
        plans_scored=out.plans_scored,
        points=pts,
        answer=ans,
        sensitivity=sens,
        scenario_winners=winners,
        calibration=cal,
        wall_time=wall_time_rows(table),
        accuracy=acc,
        assumptions=assumptions(out, table, training),
        sources=src,
        references=list(dict.fromkeys(r.source for r in src)),
        catalog_as_of=max(dates) if dates else None,
    )
