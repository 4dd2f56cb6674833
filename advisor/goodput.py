"""Whole-run time: goodput = productive (steady-state) time / wall-clock time.

A run loses time to infrastructure failures (the work since the last checkpoint and
a restart each), planned interruptions at large scale, checkpoint writes, in-loop
evaluation, slow hosts and, on spot capacity, reclaims. The model is closed form
(Kokolis et al. 2024, arXiv 2410.21680, E[ETTR] generalised to several interruption
kinds; Young 1974 / Daly 2006 for the interval) and every function takes numpy
arrays or floats, so the plan search can evaluate it on its plan arrays.

    lam    = nodes x r_node + planned + nodes x spot rate            (interruptions / s)
    tau    = sqrt(2 delta M) - delta, M = 1/lam                      (Daly 2006, first order)
    run    = T (1/s_strag + f_eval);  U = run (1 + delta/tau)        (checkpoint writes)
    W      = U / (1 - sum_i lam_i L_i)                               (L: restart + lost work)
    goodput = T / W

Defaults and their sources: advisor/data/goodput_defaults.yaml (advisor/goodput_data.py);
what a user can change: `GoodputSettings`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from advisor.catalog.schema import Storage
from advisor.errors import UsageError
from advisor.goodput_data import GoodputDefaults, goodput_defaults
from advisor.hardware import Hardware

DAY_S = 86400.0
PARTS = ("failures", "restarts", "checkpoints", "evaluation", "stragglers", "preemptions")
_MIN_KEEP = 1e-3  # a run that loses more than this per unit time never finishes: floor it


@dataclass(frozen=True)
class GoodputSettings:
    """What the user chose (None: the sourced default)."""

    enabled: bool = True
    node_mtbf_s: float | None = None  # one node's mean time between failures
    storage: Storage | None = None  # --checkpoint-storage (else the offering's, else default)
    interval_s: float | None = None  # --checkpoint-interval (else Young/Daly)
    async_checkpoint: bool = False
    eval_fraction: float | None = None
    spot_per_hour: float | None = None  # interruptions per instance-hour
    storages: Mapping[str, Storage] = field(default_factory=dict)  # the catalog's, by id


@dataclass(frozen=True)
class Conditions:
    """The model's inputs for one hardware configuration, resolved from the settings."""

    nodes: int
    failures_per_s: float  # the job's (all nodes)
    planned_per_s: float
    spot_per_s: float  # the job's (all instances); 0 unless spot pricing
    checkpoint_bytes: float
    write_bps: float  # the job's aggregate
    read_bps: float
    stage_s: float | None  # async: what blocks training per save
    restart_s: float
    requeue_s: float
    interval_s: float | None
    eval_fraction: float
    straggler: float
    spare_nodes: int
    notice_s: float
    reacquire_s: float
    flag_loss: float
    storage: str
    notes: tuple[str, ...] = ()


def job_failure_rate(nodes: Any, per_node_day: float) -> Any:
    """Failures per second of the whole job: MTTF = 1 / (N_nodes r_f) (Kokolis et al. 2024)."""
    return np.asarray(nodes, dtype=float) * per_node_day / DAY_S


def planned_rate(devices: Any, d: GoodputDefaults) -> Any:
    """Planned (maintenance) interruptions per second: Llama 3's 0.87/day at 16,384
    devices, scaled linearly with devices, none below `planned_min_devices`."""
    dev = np.asarray(devices, dtype=float)
    per_s = d.planned_per_day.value / DAY_S * dev / d.planned_reference_devices.value
    return np.where(dev >= d.planned_min_devices.value, per_s, 0.0)


def daly_interval(delta: Any, mtbf: Any) -> Any:
    """Checkpoint interval of least expected loss: sqrt(2 delta M) - delta (Daly 2006,
    first order; Young 1974 when delta << M), M when delta >= M/2."""
    delta = np.asarray(delta, dtype=float)
    mtbf = np.asarray(mtbf, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        tau = np.sqrt(2.0 * delta * mtbf) - delta
    return np.where(delta < mtbf / 2.0, tau, mtbf)


def spare_nodes(nodes: int, fraction: float) -> int:
    """Whole spare nodes held with the job (rounded down: none for small jobs)."""
    return math.floor(nodes * fraction + 1e-9)


@dataclass(frozen=True)
class Goodput:
    """Expected whole-run figures (arrays when the inputs were arrays)."""

    fraction: Any
    ettr: Any  # time training (slow steps and evaluation included) / wall (Kokolis' ETTR)
    productive_s: Any
    wall_s: Any
    parts: dict[str, Any]  # seconds lost, by cause (PARTS)
    interruptions: dict[str, Any]  # expected counts: failures, planned, preemptions
    checkpoint_bytes: float
    write_s: Any  # what one save blocks training for
    persist_s: float  # writing one checkpoint to storage
    load_s: float
    interval_s: Any
    job_mtbf_s: float
    loss_fraction: Any  # share of wall time lost to interruptions (sum lam_i L_i)
    flagged: Any  # above flag_loss: synchronous checkpoint-restart does not suit the scale


def whole_run(c: Conditions, steady_s: Any, step_s: Any) -> Goodput:
    """Expected wall time of a run of `steady_s` failure-free seconds (steps of `step_s`)."""
    steady = np.asarray(steady_s, dtype=float)
    step = np.asarray(step_s, dtype=float)
    persist = c.checkpoint_bytes / c.write_bps
    delta = c.stage_s if c.stage_s is not None else persist
    load = c.checkpoint_bytes / c.read_bps
    lam = c.failures_per_s + c.planned_per_s + c.spot_per_s
    mtbf = 1.0 / lam if lam > 0 else math.inf
    tau = c.interval_s if c.interval_s is not None else daly_interval(delta, mtbf)
    tau = np.maximum(np.maximum(tau, step), persist if c.stage_s is not None else 0.0)
    if not np.all(np.isfinite(tau)):  # no interruptions: one checkpoint at the end
        tau = np.where(np.isfinite(tau), tau, np.maximum(steady, step))
    restart = c.restart_s + load + c.requeue_s
    # A reclaim with notice enough for one save and one step loses no work (AWS 2 min).
    spot_rework = np.where(c.notice_s >= delta + step, delta, tau / 2.0)
    per_failure = restart + tau / 2.0
    per_planned = restart + delta  # a planned stop saves first
    per_reclaim = c.reacquire_s + restart + spot_rework
    loss = c.failures_per_s * per_failure + c.planned_per_s * per_planned
    loss = loss + c.spot_per_s * per_reclaim
    keep = np.maximum(1.0 - loss, _MIN_KEEP)
    stragglers = steady * (1.0 / c.straggler - 1.0)
    evaluation = steady * c.eval_fraction
    run = steady + stragglers + evaluation
    checkpoints = run * delta / tau
    wall = (run + checkpoints) / keep
    parts = {
        "failures": wall * c.failures_per_s * tau / 2.0,
        "restarts": wall * (c.failures_per_s * restart + c.planned_per_s * per_planned),
        "checkpoints": checkpoints,
        "evaluation": evaluation,
        "stragglers": stragglers,
        "preemptions": wall * c.spot_per_s * per_reclaim,
    }
    return Goodput(
        fraction=steady / wall,
        ettr=run / wall,
        productive_s=steady,
        wall_s=wall,
        parts=parts,
        interruptions={
            "failures": wall * c.failures_per_s,
            "planned": wall * c.planned_per_s,
            "preemptions": wall * c.spot_per_s,
        },
        checkpoint_bytes=c.checkpoint_bytes,
        write_s=delta,
        persist_s=persist,
        load_s=load,
        interval_s=tau,
        job_mtbf_s=mtbf,
        loss_fraction=loss,
        flagged=loss > c.flag_loss,
    )


def storage_rates(
    storage: Storage | None, nodes: int, ckpt_bytes: float, d: GoodputDefaults
) -> tuple[float, float, str, list[str]]:
    """(write, read) bytes/s of the job's checkpoint storage, its name, and what was assumed.
    Per-node devices (local NVMe, block volumes) add up over nodes; a shared file system
    whose throughput scales with capacity is sized to hold a few checkpoints."""
    if storage is None:
        per = d.write_bytes_per_s_per_node.value
        return per * nodes, per * nodes, f"default ({per / 1e9:g} GB/s per node, BLOOM)", []
    notes: list[str] = []
    mb = 1e6
    if storage.kind == "parallel-fs" and storage.read_mbps_per_tib is not None:
        tib = d.filesystem_checkpoints.value * ckpt_bytes / 2**40
        rate = storage.read_mbps_per_tib.value * mb * tib
        notes.append(
            f"{storage.id}: sized for {d.filesystem_checkpoints.value:g} checkpoints "
            f"({tib:,.1f} TiB, an assumption); writes at its per-TiB read rate (no write "
            "figure sourced)"
        )
        return rate, rate, storage.id, notes
    read = storage.read_mbps.value * mb if storage.read_mbps else None
    write = storage.write_mbps.value * mb if storage.write_mbps else None
    if read is None and write is None:
        raise UsageError(
            f"checkpoint storage '{storage.id}' has no sourced throughput to write at; "
            "choose another --checkpoint-storage"
        )
    if write is None:
        notes.append(f"{storage.id}: no sourced write speed; its read speed stands in")
        write = read
    read = read or write
    assert write is not None and read is not None
    shared = storage.kind in ("object", "parallel-fs")
    scale = 1 if shared else nodes  # one device or volume per node
    return write * scale, read * scale, storage.id, notes


def conditions(
    s: GoodputSettings,
    hw: Hardware,
    pricing: str,
    params: float,
    d: GoodputDefaults | None = None,
) -> Conditions:
    """The model's inputs for `params` parameters on this hardware under this pricing."""
    d = d or goodput_defaults()
    nodes = hw.nodes
    per_node_day = DAY_S / s.node_mtbf_s if s.node_mtbf_s else d.failures_per_node_day.value
    ckpt = params * d.checkpoint_bytes_per_param.value
    storage = s.storage
    if storage is None and hw.offering is not None and hw.offering.storage:
        storage = s.storages.get(hw.offering.storage)
    write, read, label, notes = storage_rates(storage, nodes, ckpt, d)
    stage = None
    if s.async_checkpoint:
        large = hw.devices >= d.async_large_devices.value
        stage = (d.async_stage_s_large if large else d.async_stage_s).value
    spot = 0.0
    if pricing == "spot":
        per_hour = s.spot_per_hour
        spot = (per_hour if per_hour is not None else d.spot_interruptions_per_hour.value) / 3600
    provider = hw.offering.provider if hw.offering else None
    cloud = hw.offering is not None and hw.offering.kind == "cloud"
    return Conditions(
        nodes=nodes,
        failures_per_s=float(job_failure_rate(nodes, per_node_day)),
        planned_per_s=float(planned_rate(hw.devices, d)),
        spot_per_s=spot * nodes,
        checkpoint_bytes=ckpt,
        write_bps=write,
        read_bps=read,
        stage_s=stage,
        restart_s=d.restart_s.value,
        requeue_s=d.requeue_s.value,
        interval_s=s.interval_s,
        eval_fraction=d.eval_fraction.value if s.eval_fraction is None else s.eval_fraction,
        straggler=d.straggler_factor.value,
        spare_nodes=spare_nodes(nodes, d.spare_fraction.value) if cloud else 0,
        notice_s=d.notice_s(provider).value,
        reacquire_s=d.spot_reacquire_s.value,
        flag_loss=d.flag_loss_fraction.value,
        storage=label,
        notes=tuple(notes),
    )


def spare_cost_factor(c: Conditions) -> float:
    """Cost multiplier of the spare nodes held (and billed) with the job."""
    return (c.nodes + c.spare_nodes) / c.nodes


def wall_time(
    s: GoodputSettings | None,
    hw: Hardware,
    pricing: str,
    params: float,
    steady_s: float,
    step_s: float,
) -> tuple[float, float]:
    """(wall seconds, cost factor of spare nodes): what recommend ranks and bills by."""
    s = s or GoodputSettings()
    if not s.enabled:
        return steady_s, 1.0
    c = conditions(s, hw, pricing, params)
    return float(whole_run(c, steady_s, step_s).wall_s), spare_cost_factor(c)
