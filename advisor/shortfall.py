"""When no option meets the limits: which limit binds (budget, deadline, --max-devices)
and what it does allow, with the compute-optimal model for that compute."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from advisor.estimate import CHINCHILLA_TOKENS_PER_PARAM
from advisor.model.flops import model_flops_per_token
from advisor.model.spec import ModelSpec
from advisor.units import format_duration, format_size

if TYPE_CHECKING:
    from advisor.recommend import Candidate


class Shortfall(BaseModel):
    """Which limit (budget, deadline) stops the run, and what it does allow."""

    reason: str
    binding: list[str]  # the limits that bind: --budget, --deadline, --max-devices
    what_fits: str  # what the binding limit does allow, as a sentence
    cheapest_offering: str
    cheapest_cost_usd: float
    tokens_budget_buys: float  # tokens within the binding limit (budget, or the deadline)
    compute_optimal_params: float
    compute_optimal_tokens: float
    fastest_offering: str | None = None
    fastest_time_s: float | None = None
    devices_needed: int | None = None  # at the best throughput per device found


def find_shortfall(
    spec: ModelSpec,
    candidates: list[Candidate],
    budget: float | None,
    deadline_s: float | None,
    tokens: float,
    max_devices: int,
) -> Shortfall:
    """Which limit binds, and what fits within it (the compute-optimal size for that)."""
    within_deadline = [c for c in candidates if deadline_s is None or c.time_s <= deadline_s]
    pool = within_deadline or candidates
    best = min(pool, key=lambda c: c.cost)
    extra: dict[str, Any] = {}
    if deadline_s is not None and not within_deadline:
        fast = min(candidates, key=lambda c: c.time_s)
        per_device = max(candidates, key=lambda c: c.tokens_per_s / c.hw.devices)
        rate = per_device.tokens_per_s / per_device.hw.devices
        needed = math.ceil(tokens / deadline_s / rate)
        binding = ["--deadline", "--max-devices" if needed > max_devices else "scaling"]
        fast_rate = fast.tokens_per_s / fast.hw.devices
        reason = (
            f"no option trains {format_size(tokens)} tokens within the deadline "
            f"({format_duration(deadline_s)}): the fastest within --max-devices {max_devices} is "
            f"{fast.offering.id} x {fast.nodes} ({fast.hw.devices:,} devices), "
            f"{format_duration(fast.time_s)}; the deadline needs at least {needed:,} devices at "
            f"the best throughput per device found ({rate:,.0f} tokens/s on "
            f"{per_device.hw.accelerator.id}), so "
            + (
                f"--max-devices {max_devices} binds"
                if needed > max_devices
                else f"scaling binds: on {fast.hw.devices:,} devices throughput per device falls "
                f"to {fast_rate:,.0f} tokens/s (a larger --global-batch-tokens lets more of them "
                "run data-parallel)"
            )
        )
        if budget is not None and fast.cost > budget:
            binding.append("--budget")
            reason += f"; that option would also cost ${fast.cost:,.0f}, over the budget"
        buys = fast.tokens_per_s * deadline_s
        what = f"Within the deadline the fastest option trains {format_size(buys)} tokens"
        extra = {
            "fastest_offering": f"{fast.offering.id} x {fast.nodes}",
            "fastest_time_s": fast.time_s,
            "devices_needed": needed,
        }
    else:
        assert budget is not None and best.cost > budget
        binding = ["--budget"]
        reason = (
            f"the budget ${budget:,.0f} cannot train {format_size(tokens)} tokens: the cheapest "
            "option"
            + (" within the deadline" if deadline_s is not None else "")
            + f", {best.offering.id} x {best.nodes}, needs ${best.cost:,.0f}"
        )
        buys = tokens * budget / best.cost
        what = f"The budget buys {format_size(buys)} tokens on {best.offering.id} x {best.nodes}"
    # Compute the limit allows at this option's model FLOPs; Chinchilla
    # (Hoffmann et al. 2022): C = 6·N·D with D = 20·N, so N = sqrt(C / 120).
    flops = model_flops_per_token(spec) * buys
    n_opt = math.sqrt(flops / (6 * CHINCHILLA_TOKENS_PER_PARAM))
    what += (
        f"; the compute-optimal model for that compute is about {format_size(n_opt)} parameters "
        f"on {format_size(CHINCHILLA_TOKENS_PER_PARAM * n_opt)} tokens (Chinchilla, "
        f"{CHINCHILLA_TOKENS_PER_PARAM} tokens per parameter)"
    )
    return Shortfall(
        reason=reason,
        binding=binding,
        what_fits=what,
        cheapest_offering=f"{best.offering.id} x {best.nodes}",
        cheapest_cost_usd=best.cost,
        tokens_budget_buys=buys,
        compute_optimal_params=n_opt,
        compute_optimal_tokens=CHINCHILLA_TOKENS_PER_PARAM * n_opt,
        **extra,
    )
