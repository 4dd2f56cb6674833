"""The report's answer: which option to take, its cost and time with their range, and why
it beat the runner-up."""

from __future__ import annotations

from advisor.model.memory import GIB
from advisor.recommend import Option, RecommendOut
from advisor.report.data import (
    TIE_MARGIN,
    AccuracyData,
    Answer,
    OptionSensitivity,
    Range,
)

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
