"""The whole-run figures of one estimate as the JSON document carries them, and the
one-line assumptions said beside them (advisor/goodput.py computes them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from advisor.goodput import (
    PARTS,
    Conditions,
    Goodput,
    GoodputSettings,
    conditions,
    spare_cost_factor,
    whole_run,
)
from advisor.goodput_data import goodput_defaults
from advisor.hardware import Hardware


class GoodputOut(BaseModel):
    """Goodput = productive (steady-state) time / wall time, with the seconds lost by cause."""

    enabled: bool
    fraction: float
    ettr: float = Field(
        description="Effective training time ratio: training (slow steps and evaluation "
        "included) / wall time (Kokolis et al. 2024)."
    )
    productive_s: float
    wall_s: float
    parts_s: dict[str, float] = Field(
        description="Seconds lost: failures (work since the last checkpoint), restarts "
        "(detection, restart, reload), checkpoints (writes that block), evaluation, "
        "stragglers, preemptions (spot reclaims: re-acquire, restart, lost work)."
    )
    job_mtbf_s: float | None = None
    spare_nodes: int = 0
    storage: str | None = None
    flagged: bool = False


class CheckpointOut(BaseModel):
    bytes: float
    write_s: float = Field(description="Training blocked per save (async: the staging copy).")
    persist_s: float = Field(description="Writing one checkpoint to its storage.")
    load_s: float
    interval_s: float
    asynchronous: bool


class WholeRun(BaseModel):
    """What describe() adds to an estimate."""

    goodput: GoodputOut
    checkpoint: CheckpointOut | None
    expected_interruptions: dict[str, float] | None
    cost_factor: float  # spare nodes billed with the job
    notes: list[str]


def steady_only(steady_s: float) -> WholeRun:
    """--goodput off: the steady-state answer."""
    return WholeRun(
        goodput=GoodputOut(
            enabled=False,
            fraction=1.0,
            ettr=1.0,
            productive_s=steady_s,
            wall_s=steady_s,
            parts_s=dict.fromkeys(PARTS, 0.0),
        ),
        checkpoint=None,
        expected_interruptions=None,
        cost_factor=1.0,
        notes=["goodput off: steady-state time and cost (no failures, checkpoints, evaluation)"],
    )


def run_goodput(
    s: GoodputSettings | None,
    hw: Hardware,
    pricing: str,
    params: float,
    steady_s: float,
    step_s: float,
) -> WholeRun:
    """The whole-run figures of one plan (`s` None: the defaults, goodput on)."""
    s = s or GoodputSettings()
    if not s.enabled:
        return steady_only(steady_s)
    c = conditions(s, hw, pricing, params)
    g = whole_run(c, steady_s, step_s)
    ints = {k: float(v) for k, v in g.interruptions.items()}
    ints["total"] = sum(ints.values())
    return WholeRun(
        goodput=GoodputOut(
            enabled=True,
            fraction=float(g.fraction),
            ettr=float(g.ettr),
            productive_s=float(g.productive_s),
            wall_s=float(g.wall_s),
            parts_s={k: float(v) for k, v in g.parts.items()},
            job_mtbf_s=float(g.job_mtbf_s) if g.job_mtbf_s != float("inf") else None,
            spare_nodes=c.spare_nodes,
            storage=c.storage,
            flagged=bool(g.flagged),
        ),
        checkpoint=CheckpointOut(
            bytes=g.checkpoint_bytes,
            write_s=float(g.write_s),
            persist_s=float(g.persist_s),
            load_s=float(g.load_s),
            interval_s=float(g.interval_s),
            asynchronous=c.stage_s is not None,
        ),
        expected_interruptions=ints,
        cost_factor=spare_cost_factor(c),
        notes=goodput_notes(s, c, g, pricing),
    )


def _dur(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.0f} d"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.1f} s"


def goodput_notes(s: GoodputSettings, c: Conditions, g: Goodput, pricing: str) -> list[str]:
    """What the whole-run figures assumed, each with where it comes from."""
    d = goodput_defaults()
    rate = c.failures_per_s / c.nodes * 86400 * 1000
    who = "--node-mtbf" if s.node_mtbf_s else "Kokolis et al. 2024"
    interval = "--checkpoint-interval" if s.interval_s else "Young/Daly optimum"
    mode = "async, blocking " + _dur(float(g.write_s)) if c.stage_s is not None else "sync"
    notes = [
        f"whole run: goodput {float(g.fraction):.3f} (--goodput off for the steady state): "
        f"{rate:.2f} failures per 1000 node-days ({who}), job MTBF "
        f"{_dur(g.job_mtbf_s) if g.job_mtbf_s != float('inf') else 'none'}, "
        f"{_dur(c.restart_s)} to restart (automated) + {_dur(g.load_s)} to reload",
        f"checkpoints: {c.checkpoint_bytes / 1e12:,.3g} TB "
        f"({d.checkpoint_bytes_per_param.value:g} B/param, BLOOM) to {c.storage}, "
        f"{_dur(g.persist_s)} per save ({mode}), every {_dur(float(g.interval_s))} ({interval})",
        f"evaluation {c.eval_fraction:.1%} of training time (BLOOM; --eval-fraction), "
        f"stragglers {1 - c.straggler:.1%} slower (Llama 3 diurnal 1-2%)",
        *c.notes,
    ]
    if c.planned_per_s:
        notes.append(
            f"planned maintenance stops: {c.planned_per_s * 86400:.2f}/day "
            "(Llama 3's 0.87/day at 16,384 GPUs, scaled by devices)"
        )
    if c.spare_nodes:
        notes.append(
            f"{c.spare_nodes} spare node(s) held and billed with the job "
            f"({d.spare_fraction.value:.0%}, NCSA Delta; ml-engineering), so restarts do not wait"
        )
    if pricing == "spot":
        per_h = c.spot_per_s / c.nodes * 3600
        who = (
            "--spot-interruptions"
            if s.spot_per_hour is not None
            else ("fallback: AWS Spot Advisor's >20%/month bucket; no provider publishes GPU rates")
        )
        notes.append(
            f"spot: {per_h:.2g} interruptions per instance-hour ({who}), {c.notice_s:g} s "
            f"notice, {_dur(c.reacquire_s)} to get capacity back (an assumption), each costs "
            "a restart and the work since the last checkpoint unless the notice fits a save"
        )
    if bool(g.flagged):
        notes.append(
            f"interruptions take {float(g.loss_fraction):.0%} of the time: synchronous "
            "checkpoint-restart does not suit this scale (in-memory checkpoints, hot spares "
            "or fault-tolerant training would be needed)"
        )
    return notes


def whole_run_fields(w: WholeRun, steady_tps_per_device: float) -> dict[str, Any]:
    """The estimate document's whole-run keys."""
    return {
        "goodput": w.goodput,
        "checkpoint": w.checkpoint,
        "expected_interruptions": w.expected_interruptions,
        "wall_tokens_per_s_per_device": steady_tps_per_device * w.goodput.fraction,
    }


def ranking_notes(s: GoodputSettings | None, pricing: str) -> list[str]:
    """What recommend's ranking assumed about the whole run (said once, in its notes)."""
    s = s or GoodputSettings()
    if not s.enabled:
        return ["ranked on steady-state time and cost (--goodput off)"]
    notes = [
        "ranked on expected wall time and cost: failures, restarts, checkpoints, evaluation "
        "and stragglers included (each option's goodput; --goodput off for the steady state)"
    ]
    if pricing == "spot":
        d = goodput_defaults()
        rate = s.spot_per_hour
        who = (
            "--spot-interruptions"
            if rate is not None
            else "no provider publishes GPU spot interruption rates: AWS Spot Advisor's "
            ">20%/month bucket as the fallback"
        )
        rate = d.spot_interruptions_per_hour.value if rate is None else rate
        notices = ", ".join(
            f"{k} {v.value:g} s" for k, v in d.spot_notice_s.items() if k != "default"
        )
        notes.append(
            f"spot: {rate:.2g} interruptions per instance-hour ({who}); notice {notices}; "
            f"{d.spot_reacquire_s.value / 60:g} min to get capacity back (an assumption); each "
            "reclaim costs a restart, a reload and the work since the last checkpoint (none "
            "when the notice fits a save), so options rank by expected wall time and cost, "
            "not price alone"
        )
    return notes


def whole_run_s(est: Any, steady_s: float) -> float:
    """Wall seconds of an estimate's run had its steady time been `steady_s`: goodput does
    not depend on the run's length (every loss is a rate), so it scales."""
    g = getattr(est, "goodput", None)
    return steady_s / g.fraction if g is not None and g.fraction > 0 else steady_s
