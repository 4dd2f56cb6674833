"""Order recommendation options so that differences the model cannot resolve do not decide.

The estimate is good to about ±10%: the report's sensitivity section scales efficiency by
x0.9 and x1.1, and cost (price x time) moves by as much. Two options whose costs lie
within that of each other are a tie on cost, so the faster one ranks first: a plan that
costs $2,551.26 over 32 hours is not worse than one at $2,551.32 over 43 days.
"""

from __future__ import annotations

import numpy as np

# The range of the estimate: efficiency x0.9..x1.1 (advisor.report.build RANGE_FACTORS).
TIE_TOLERANCE = 0.10

# Default horizon for --max-days. The long published pre-training runs took weeks to about
# three months (OPT-175B 56 days, Nov 2021-Jan 2022; BLOOM-176B ~90 days; Llama 3 405B's
# reliability snapshot 54 days: goodput notes §1.3, §4, §1.1), and nodes held past a quarter meet
# renewals, hardware refreshes and price changes the estimate cannot see. Plans slower
# than this are removed (and the output says so); --max-days or --deadline widens it.
DEFAULT_MAX_DAYS = 90.0


def rank_order(primary: np.ndarray, secondary: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the options in rank order.

    The options are banded by `primary` (cost, or time): each band starts at the lowest
    value not yet ranked and holds every option within `tolerance` of it (value <= start
    x (1 + tolerance)). Bands come in order of `primary`; inside a band, `secondary`
    decides (then `primary`, then input order)."""
    p = np.asarray(primary, dtype=float)
    s = np.asarray(secondary, dtype=float)
    if p.shape != s.shape or p.ndim != 1:
        raise ValueError("primary and secondary must be 1-D arrays of the same length")
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    idx = np.arange(len(p))
    order = np.lexsort((idx, s, p))
    out: list[int] = []
    i = 0
    while i < len(order):
        limit = p[order[i]] * (1.0 + tolerance)
        j = i
        while j < len(order) and p[order[j]] <= limit:
            j += 1
        band = order[i:j]
        out.extend(int(k) for k in band[np.lexsort((idx[band], p[band], s[band]))])
        i = j
    return np.asarray(out, dtype=int)
