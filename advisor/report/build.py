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

import dataclasses
import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

import advisor
from advisor.catalog import Catalog, iter_figures
from advisor.catalog.schema import DeviceProfile
from advisor.crossval import CvRow
from advisor.errors import AdvisorError
from advisor.estimate import CHINCHILLA_TOKENS_PER_PARAM, overhead_bytes
from advisor.goodput_out import whole_run_s
from advisor.hardware import Hardware
from advisor.layout import DEFAULT_MEMORY_HEADROOM, default_batch_tokens
from advisor.model.device import DeviceModel, EfficiencyCurve, device_model
from advisor.model.memory import GIB
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.recommend import Option, Query, RecommendOut, Shortfall, cost_at, recommend
from advisor.report.wall_time import WallTimeRow, wall_time_rows
from advisor.search import enumerate_plans, score

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


# --- sensitivity ------------------------------------------------------------------------------


@dataclasses.dataclass
class _Rescorer:
    """One option's hardware, rebuilt as `recommend` builds it, re-searched on demand."""

    option: Option
    hw: Hardware
    dev: DeviceModel
    price_per_hour: float
    headroom: float = DEFAULT_MEMORY_HEADROOM

    def run(
        self, spec: ModelSpec, training: TrainingSpec, tokens: float, batch: float, eff: float
    ) -> tuple[float, float]:
        """(time to train, cost) with efficiencies x `eff`, the layout re-searched."""
        dev = scale_efficiency(self.dev, eff) if eff != 1.0 else self.dev
        st = self.option.stack or {}  # the option's software-stack conventions
        flash = bool(st.get("flash_attention", True))
        stages = tuple(st.get("zero_stages", (0, 1, 2, 3)))
        plans = enumerate_plans(
            spec, [self.hw.devices], self.hw.devices_per_node, batch, None, flash, stages
        )
        overhead, _ = overhead_bytes(self.hw)
        cap = self.hw.memory_bytes or 0.0
        scored = score(
            spec,
            training,
            plans,
            dev,
            cap,
            overhead,
            headroom=self.headroom,
            flash_attention=flash,
            dp_overlap=bool(st.get("dp_overlap", True)),
            tp_overlap=st.get("tp_overlap") == "backward",
        )
        j = scored.best()  # as recommend chooses
        if j is None:
            return float("inf"), float("inf")
        t = whole_run_s(self.option, tokens / float(scored.tokens_per_s[j]))
        return cost_at(self.option, t, self.hw.terms)  # billing terms, purchase or ownership


def _scale_curve(c: EfficiencyCurve, f: float) -> EfficiencyCurve:
    """Efficiency x f, capped at 100% of peak (or at the measured value when above it)."""

    def s(v: float) -> float:
        return min(v * f, max(v, 1.0))

    return EfficiencyCurve(s(c.max_efficiency), c.sizes, tuple(s(v) for v in c.values))


def scale_efficiency(dev: DeviceModel, f: float) -> DeviceModel:
    """The same device with matmul, memory-bandwidth and optimizer efficiency x f."""
    return dataclasses.replace(
        dev,
        matmul={k: _scale_curve(c, f) for k, c in dev.matmul.items()},
        memory_efficiency=_scale_curve(dev.memory_efficiency, f),
        optimizer_efficiency=min(dev.optimizer_efficiency * f, max(dev.optimizer_efficiency, 1.0)),
    )


def option_profile(
    catalog: Catalog, accelerator: str, profile: DeviceProfile | None
) -> DeviceProfile | None:
    """The profile `recommend` uses for an accelerator."""
    if profile is not None and profile.accelerator == accelerator:
        return profile
    return catalog.profile_for(accelerator)


def _rescorer(catalog: Catalog, o: Option, profile: DeviceProfile | None) -> _Rescorer:
    off = catalog.offering(o.offering)
    acc = catalog.accelerator(off.accelerator)
    prof = option_profile(catalog, acc.id, profile)
    bw = off.node_network_bandwidth_gbs.value if off.node_network_bandwidth_gbs else None
    per_node = off.accelerator_count
    stack = str((o.stack or {}).get("id", "auto"))
    dev = device_model(catalog, acc, prof, off, per_node, bw, stack=stack)
    terms = catalog.terms_for(off)
    hw = Hardware(acc, int(o.hardware["devices"]), per_node, off, prof, bw, None, terms)
    return _Rescorer(o, hw, dev, float(o.price_per_hour_usd or 0.0))


def sensitivity(
    spec: ModelSpec,
    training: TrainingSpec,
    catalog: Catalog,
    options: list[Option],
    query: Query,
    profile: DeviceProfile | None,
) -> tuple[list[OptionSensitivity], list[ScenarioWinner]]:
    """Cost and time of the first options with efficiency and price scaled."""
    batch = training.global_batch_tokens or default_batch_tokens(count_params(spec).total)
    out: list[OptionSensitivity] = []
    for o in options[:SENSITIVITY_OPTIONS]:
        r = _rescorer(catalog, o, profile)
        r.headroom = query.memory_headroom
        rows: list[Scenario] = []
        cases: list[tuple[str, Literal["baseline", "efficiency", "price"], float]] = [
            ("as estimated", "baseline", 1.0),
            *[(f"efficiency x{f:g}", "efficiency", f) for f in EFFICIENCY_FACTORS],
            *[(f"price x{f:g}", "price", f) for f in PRICE_FACTORS],
        ]
        base_t, base_c = r.run(spec, training, query.tokens, batch, 1.0)
        for name, kind, f in cases:
            if kind == "efficiency":
                t, c = r.run(spec, training, query.tokens, batch, f)
            elif kind == "price":
                t, c = base_t, base_c * f
            else:
                t, c = base_t, base_c
            ok = (query.budget_usd is None or c <= query.budget_usd) and (
                query.deadline_s is None or t <= query.deadline_s
            )
            rows.append(
                Scenario(name=name, kind=kind, factor=f, time_s=t, cost_usd=c, within_limits=ok)
            )
        out.append(OptionSensitivity(rank=o.rank, label=label(o), scenarios=rows))
    winners: list[ScenarioWinner] = []
    if out:
        for k, sc in enumerate(out[0].scenarios):
            pool = [(s.scenarios[k], s) for s in out if s.scenarios[k].within_limits]
            if query.objective == "cost":
                pool.sort(key=lambda p: (p[0].cost_usd, p[0].time_s))
            else:
                pool.sort(key=lambda p: (p[0].time_s, p[0].cost_usd))
            best = pool[0][1] if pool else None
            winners.append(
                ScenarioWinner(
                    name=sc.name,
                    rank=best.rank if best else None,
                    label=best.label if best else None,
                )
            )
    return out, winners


# --- the answer -------------------------------------------------------------------------------


def _pct(a: float, b: float) -> str:
    return f"{abs(a / b - 1):.0%}" if b else "n/a"


def _money(x: float) -> str:
    from advisor.units import format_money

    return format_money(x)


def _dur(x: float) -> str:
    from advisor.units import format_duration

    return format_duration(x)


def _per_mtok(o: Option) -> float:
    wall_tps = o.wall_tokens_per_s_per_device or o.tokens_per_s_per_device  # whole run
    return (o.price_per_hour_usd or 0.0) / (wall_tps * o.hardware["devices"] * 3600.0) * 1e6


def _layout(o: Option) -> str:
    p = o.plan
    text = f"dp {p.dp}, tp {p.tp}, pp {p.pp}"
    if p.vpp > 1:
        text += f" (x{p.vpp} virtual)"
    text += f", ZeRO-{p.zero}, micro-batch {p.micro_batch}, {p.grad_accum} accumulation step(s)"
    if p.recompute != "none":
        text += f", {p.recompute} recomputation"
    return text


def answer(
    out: RecommendOut,
    options: list[Option],
    sens: list[OptionSensitivity],
    acc: AccuracyData | None,
) -> Answer:
    q = out.query
    held = acc.summary.get("not fitted") if acc else None
    basis = (
        "Ranges: matmul and memory-bandwidth efficiency x0.9 to x1.1, re-scored through the "
        "model with the layout re-searched (prices as listed)."
    )
    if held:
        basis += (
            f" For scale: on {int(held['n'])} published runs not used for fitting, predicted "
            f"throughput or step time was off by {held['mean_abs_error']:.0%} on average "
            f"({held['max_abs_error']:.0%} at worst)."
        )
    if out.shortfall is not None:
        s = out.shortfall
        why = [
            f"{s.reason}.",
            f"{s.what_fits}.",
        ]
        if options:
            why.append("The table below lists the nearest options, ignoring the limits.")
        return Answer(
            headline="No option meets the budget and deadline",
            option=None,
            cost_usd=None,
            time_s=None,
            range_basis=basis,
            why=why,
            notes=[],
            shortfall=s,
        )
    best = options[0]
    cost = best.cost_usd or 0.0
    wall = best.wall_time_s or best.time_to_train_s  # provisioning + training
    cost_r, time_r = measured_ranges(best, cost, wall)
    if best.range:
        b = best.range["basis"]
        basis = (
            "Ranges: 10th to 90th percentile of the cross-validated error (leave one source "
            f"out) on {b['count']} comparable published runs ({b['group']}; advisor accuracy)."
        )
    hw = best.hardware
    verb = "Rent" if best.purchase_usd is None else ("Use" if best.owned else "Buy")
    headline = (
        f"{verb} {best.nodes} x {best.offering} ({best.provider}): {hw['devices']} x {hw['name']}"
    )
    why = [
        f"Lay the job out as {_layout(best)}: {best.mfu:.0%} MFU "
        f"(of the {best.mfu_peak_precision or q.precision} peak), "
        f"{best.tokens_per_s:,.0f} tokens/s, "
        f"{best.memory_per_device_bytes.total / GIB:.1f} GiB of "
        f"{(best.memory_capacity_bytes or 0) / GIB:.1f} GiB per device."
    ]
    notes: list[str] = []
    if len(options) > 1:
        two = options[1]
        c2 = two.cost_usd or 0.0
        head = (
            f"It beat the runner-up, {two.offering} x{two.nodes} "
            f"({two.hardware['devices']} x {two.hardware['accelerator']}), "
        )
        rates = (
            f"It pays ${best.price_per_hour_usd or 0:,.2f}/h for {best.tokens_per_s:,.0f} "
            f"tokens/s against ${two.price_per_hour_usd or 0:,.2f}/h for "
            f"{two.tokens_per_s:,.0f} tokens/s: ${_per_mtok(best):.4f} against "
            f"${_per_mtok(two):.4f} per million tokens."
        )
        if q.objective == "cost":
            why.append(
                f"{head}on cost: {_money(cost)} against {_money(c2)} ({_pct(cost, c2)} less), "
                f"and it finishes in {_dur(best.time_to_train_s)} against "
                f"{_dur(two.time_to_train_s)}."
            )
            why.append(rates)
            margin = 1 - cost / c2 if c2 else 1.0
            if margin < TIE_MARGIN:
                faster = best if best.time_to_train_s <= two.time_to_train_s else two
                notes.append(
                    f"The lead on cost ({margin:.0%}) is within the ±10% efficiency range: "
                    f"treat #1 and #2 as tied on cost; #{faster.rank} is the faster of the two."
                )
        else:
            why.append(
                f"{head}on time: {_dur(best.time_to_train_s)} against "
                f"{_dur(two.time_to_train_s)} ({_pct(best.time_to_train_s, two.time_to_train_s)} "
                f"sooner), for {_money(cost)} against {_money(c2)}."
            )
            why.append(rates)
            margin = 1 - best.time_to_train_s / two.time_to_train_s
            if margin < TIE_MARGIN:
                notes.append(
                    f"The lead on time ({margin:.0%}) is within the ±10% efficiency range: "
                    "treat #1 and #2 as tied on time."
                )
    else:
        why.append("It is the only option within the budget and deadline.")
    for caveat in best.caveats:
        notes.append(f"The catalog doubts this price: {caveat}.")
    if q.budget_usd is not None and cost_r.high > q.budget_usd:
        notes.append(
            f"At the slow end of its range it would cost {_money(cost_r.high)}, over the "
            f"{_money(q.budget_usd)} budget."
        )
    if q.deadline_s is not None and time_r.high > q.deadline_s:
        notes.append(
            f"At the slow end of its range it would take {_dur(time_r.high)}, past the deadline."
        )
    return Answer(
        headline=headline,
        option=best,
        cost_usd=cost_r,
        time_s=time_r,
        range_basis=basis,
        why=why,
        notes=notes,
    )


def measured_ranges(best: Option, cost: float, wall: float) -> tuple[Range, Range]:
    """Cost and wall-time ranges from the option's `range` (cross-validated residuals of
    comparable published runs); provisioning time is added to both ends unchanged."""
    r = best.range or {}
    c, t = r.get("cost_usd") or {}, r.get("time_to_train_s") or {}
    cost_r = Range(value=cost, low=c.get("low") or cost, high=c.get("high") or cost)
    shift = wall - best.time_to_train_s
    time_r = Range(
        value=wall,
        low=(t["low"] + shift) if t.get("low") else wall,
        high=(t["high"] + shift) if t.get("high") else wall,
    )
    return cost_r, time_r


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
    curves: list[CalibrationCurve] = []
    for dtype, c in sorted(profile.matmul.items()):
        curves.append(
            CalibrationCurve(
                kind="matmul",
                dtype=dtype,
                points=list(c.points),
                max_efficiency=c.max_efficiency.value,
                source=catalog.source_of(c.max_efficiency),
                as_of=c.max_efficiency.as_of,
            )
        )
    if profile.memory_bandwidth is not None:
        c = profile.memory_bandwidth
        curves.append(
            CalibrationCurve(
                kind="memory",
                dtype=None,
                points=list(c.points),
                max_efficiency=c.max_efficiency.value,
                source=catalog.source_of(c.max_efficiency),
                as_of=c.max_efficiency.as_of,
            )
        )
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
