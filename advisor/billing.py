"""What a rental is billed for and how long it takes, under its terms (terms.yaml).

A rental is not infinitely divisible: it starts some minutes after it is asked for,
is billed in whole steps from a minimum (a second, or a day for an AWS Capacity
Block), and one rental holds at most so many nodes. These are small pure functions
over a `RentalTerms` record; `None` terms (hardware one owns) bill the run as it is.
"""

from __future__ import annotations

import math

from advisor.catalog.schema import RentalTerms

# Guard against float noise turning an exact multiple into one more step (3 x 1/3600 h).
_EPS = 1e-9


def _steps(hours: float, step: float) -> float:
    return math.ceil(hours / step - _EPS) * step


def provisioning_hours(terms: RentalTerms | None) -> float:
    return terms.provisioning_minutes.value / 60.0 if terms is not None else 0.0


def wall_hours(run_hours: float, terms: RentalTerms | None) -> float:
    """Wall-clock time from asking for the nodes to the end of the run."""
    return run_hours + provisioning_hours(terms)


def billed_hours(run_hours: float, terms: RentalTerms | None) -> float:
    """Hours paid for one node: provisioning + run (+ a reservation's unusable tail),
    rounded up to the billing steps and no less than the minimum."""
    if terms is None:
        return run_hours
    used = wall_hours(run_hours, terms)
    if terms.unusable_tail_hours is not None:
        used += terms.unusable_tail_hours.value
    long_after = terms.long_after_hours.value if terms.long_after_hours else math.inf
    if used <= long_after + _EPS:
        billed = _steps(used, terms.increment_hours.value)
    else:
        assert terms.long_increment_hours is not None  # validated with long_after_hours
        head = _steps(long_after, terms.increment_hours.value)
        billed = head + _steps(used - head, terms.long_increment_hours.value)
    return max(terms.minimum_hours.value, billed)


def node_limit(terms: RentalTerms | None, offering_limit: int | None) -> int | None:
    """The most nodes one rental can hold: the offering's own limit, else its terms'."""
    limits = [n for n in (offering_limit,) if n]
    if terms is not None and terms.max_nodes is not None:
        limits.append(int(terms.max_nodes.value))
    return min(limits) if limits else None


def terms_note(terms: RentalTerms, run_hours: float) -> str:
    """One line saying how the run was billed."""
    billed = billed_hours(run_hours, terms)
    return (
        f"billed {billed:,.2f} h per node for a {run_hours:,.2f} h run under '{terms.name}' "
        f"terms (minimum {_fmt_h(terms.minimum_hours.value)}, steps of "
        f"{_fmt_h(terms.increment_hours.value)}, {terms.provisioning_minutes.value:g} min "
        "to start, billed)"
    )


def _fmt_h(h: float) -> str:
    if h >= 24 and h % 24 == 0:
        return f"{h / 24:g} d"
    if h >= 1:
        return f"{h:g} h"
    if h * 60 >= 1:
        return f"{h * 60:g} min"
    return f"{h * 3600:.3g} s"
