"""What a report shows, as validated records (`ReportData` and its parts), and the
constants that size the report's studies."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from advisor.crossval import CvRow
from advisor.recommend import Option, Query, Shortfall
from advisor.report.wall_time import WallTimeRow

EFFICIENCY_FACTORS = (0.8, 0.9, 1.1)
PRICE_FACTORS = (0.8, 1.2)
RANGE_FACTORS = (1.1, 0.9)  # efficiency scaling that gives the low and high ends
SENSITIVITY_OPTIONS = 5  # options re-scored in the sensitivity study
PLOT_OPTIONS = 6  # options in the memory and step-time figures
CONTEXT_LIMIT = 1000  # options drawn in the cost-time figure
TIE_MARGIN = 0.10  # a lead smaller than the efficiency range is called a tie


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Model):
    value: float
    low: float
    high: float


class Scenario(_Model):
    name: str
    kind: Literal["baseline", "efficiency", "price"]
    factor: float
    time_s: float
    cost_usd: float
    within_limits: bool


class OptionSensitivity(_Model):
    rank: int
    label: str
    scenarios: list[Scenario]


class ScenarioWinner(_Model):
    name: str
    rank: int | None  # which of the re-scored options would rank first; None: none within limits
    label: str | None


class Answer(_Model):
    headline: str
    option: Option | None
    cost_usd: Range | None
    time_s: Range | None
    range_basis: str
    why: list[str]
    notes: list[str]
    shortfall: Shortfall | None = None


class Point(_Model):
    label: str
    offering: str
    nodes: int
    accelerator: str
    devices: int
    time_s: float
    cost_usd: float
    feasible: bool
    pareto: bool
    rank: int | None


class CalibrationCurve(_Model):
    kind: Literal["matmul", "memory"]
    dtype: str | None
    points: list[tuple[float, float]]
    max_efficiency: float
    source: str
    as_of: dt.date


class Calibration(_Model):
    profile: str
    accelerator: str
    file: str
    curves: list[CalibrationCurve]
    used_by: list[int]
    notes: list[str]


class AccuracyData(_Model):
    checks: list[CvRow]  # steady-state rows, each predicted without its own source
    summary: dict[str, dict[str, float]]  # per source, and "all"
    note: str


class SourceRow(_Model):
    kind: str
    entry: str
    field: str
    value: float
    source: str
    ref: int  # 1-based index into ReportData.references
    as_of: dt.date
    published: str | None = None
    derived: bool
    note: str | None
    conflict: str | None


class ReportData(_Model):
    """The content of a report, whatever its format (the `--format json` document)."""

    title: str
    advisor_version: str
    query: Query
    model: dict[str, Any]
    options: list[Option]
    options_over_limits: bool  # True: no option meets the limits; these are the nearest
    feasible_options: int
    offerings_searched: int
    plans_scored: int
    points: list[Point]
    answer: Answer
    sensitivity: list[OptionSensitivity]
    scenario_winners: list[ScenarioWinner]
    calibration: Calibration | None
    wall_time: list[WallTimeRow] = []  # where each option's wall time goes (goodput)
    accuracy: AccuracyData | None
    assumptions: list[str]
    sources: list[SourceRow]
    references: list[str]  # distinct sources, in order of first use
    catalog_as_of: dt.date | None


def label(o: Option) -> str:
    return f"#{o.rank} {o.offering} x{o.nodes}"
