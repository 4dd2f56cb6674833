"""Sensitivity study: the top options re-scored through the model with device efficiency
and prices scaled (what-ifs, not the range; the range is the cross-validated error)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile
from advisor.estimate import overhead_bytes
from advisor.goodput_out import whole_run_s
from advisor.hardware import Hardware
from advisor.layout import DEFAULT_MEMORY_HEADROOM, default_batch_tokens
from advisor.model.device import DeviceModel, EfficiencyCurve, device_model
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.recommend import Option, Query, cost_at
from advisor.report.data import (
    EFFICIENCY_FACTORS,
    PRICE_FACTORS,
    SENSITIVITY_OPTIONS,
    OptionSensitivity,
    Scenario,
    ScenarioWinner,
    label,
)
from advisor.search import enumerate_plans, score

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
