"""Cross-validation's inputs: which published row, and the analytic model's prediction of
it with no fitted factor (its layout scored with the stack's conventions); the rows with
their held-out predictions (advisor/crossval.py fits and checks the factor)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from pydantic import BaseModel

from advisor.catalog import Catalog, load_catalog
from advisor.errors import AdvisorError
from advisor.hardware import node_network, resolve_hardware
from advisor.layout import LayoutChoice
from advisor.model.device import device_model
from advisor.model.flops import model_flops_per_token
from advisor.model.memory import GIB
from advisor.model.spec import TrainingSpec
from advisor.runs import Run, load_runs
from advisor.search import enumerate_plans, plan_fields, score

NAPKIN_MFU = 0.45  # the "assume 45% MFU" rule of thumb (issue 10)
DEVICES_PER_NODE = {"tpu": 4}  # chips per host; GPUs default to 8


class RowId(BaseModel):
    """Which published row, what it measured and how it is grouped."""

    id: str
    source: str
    stack: str
    family: str
    accelerator: str
    metric: str
    measured: float


class BasePrediction(RowId):
    """The model's prediction of one row with no fitted factor."""

    base: float  # predicted, in the row's metric
    ratio: float  # measured step time / predicted step time (the factor a row asks for)
    napkin: float  # 45%-MFU prediction, in the row's metric
    whole_run: bool
    plan: dict[str, Any]


class CvRow(RowId):
    """A row predicted with the factor fitted without its own source."""

    predicted: float
    error: float  # predicted / measured - 1
    napkin: float
    napkin_error: float
    factor: float
    factor_group: str  # which group's factor predicted it
    whole_run: bool
    plan: dict[str, Any]


def held_out_fields(
    p: BasePrediction, predicted: float, factor: float, group: str
) -> dict[str, Any]:
    """The fields of a CvRow: row `p` predicted at `predicted` by a factor fitted
    without it (`factor`, from `group`), its error and the napkin's beside it."""
    return {
        **p.model_dump(include=set(RowId.model_fields)),
        "predicted": predicted,
        "error": predicted / p.measured - 1,
        "napkin": p.napkin,
        "napkin_error": p.napkin / p.measured - 1,
        "factor": factor,
        "factor_group": group,
        "whole_run": p.whole_run,
        "plan": p.plan,
    }


def base_prediction(run: Run, catalog: Catalog) -> BasePrediction:
    """Score the row's layout with its stack's conventions (no fitted correction).
    Layout fields the source does not print are chosen by the search (fastest plan)."""
    assert run.spec and run.accelerator and run.devices and run.global_batch_tokens
    assert run.metric and run.measured
    acc = catalog.accelerator(run.accelerator)
    # The hardware as `advisor estimate --accelerator A --count N` builds it (nodes, or
    # chip-link domains such as NVL72 racks and TPU slices), with the row's own network.
    try:
        hw = resolve_hardware(catalog, acc.id, run.devices, None, None)
    except AdvisorError as e:
        if run.node_network_gbs is None:
            raise ValueError(str(e)) from None
        per_node = min(run.devices, DEVICES_PER_NODE.get(acc.kind, 8))
    else:
        per_node = hw.devices_per_node
    net = run.node_network_gbs
    if net is None and run.devices > per_node:
        net, _ = node_network(catalog, acc, None, per_node)
        if net is None:
            raise ValueError(f"no sourced inter-node network for {acc.id}")
    dev = device_model(catalog, acc, catalog.profile_for(acc.id), None, per_node, net)
    dev = dataclasses.replace(dev, time_factor=1.0)
    lay = run.layout
    legacy = run.source in ("megatron-lm-2021", "korthikanti-2022")
    training = TrainingSpec(
        precision=run.precision,  # type: ignore[arg-type]
        recompute=run.recompute,  # type: ignore[arg-type]
        convention="megatron" if legacy else "advisor",
    )
    sp = lay["sp"] if lay["sp"] is not None else (lay["tp"] or 1) > 1
    full = LayoutChoice(
        tp=lay["tp"],
        pp=lay["pp"],
        cp=lay["cp"],
        ep=lay["ep"] if run.spec.is_moe else None,
        vpp=lay["vp"],
        sp=sp,
        zero=lay["zero"],
        micro_batch=lay["mbs"],
        recompute=run.recompute,  # type: ignore[arg-type]
    )
    loose = dataclasses.replace(full, vpp=None, micro_batch=None)
    plans = None
    for choice in (full, loose):  # v or micro-batch outside the searched set: search them
        plans = enumerate_plans(
            run.spec,
            [run.devices],
            per_node,
            run.global_batch_tokens,
            choice,
            flash_attention=run.flash_attention,
        )
        if len(plans):
            break
    if plans is None or not len(plans):
        raise ValueError("no legal layout agrees with the row's layout")
    memory = (run.memory_gb or (acc.memory_gb.value if acc.memory_gb else 80.0)) * 1e9
    scored = score(
        run.spec,
        training,
        plans,
        dev,
        capacity_bytes=memory,
        overhead_bytes=1.0 * GIB,
        grad_bytes=2.0 if legacy else None,
        flash_attention=run.flash_attention,
        dp_overlap=run.dp_overlap,
        tp_overlap=run.tp_overlap,
    )
    # Published runs were tuned for throughput: the fastest plan stands for the fields
    # they do not give (no preference for simpler plans, no headroom).
    i = scored.best(tolerance=0.0)
    if i is None:
        i = int(scored.memory_total.argmin())
    step = float(scored.step_time[i])
    tps = float(scored.tokens_per_s[i] / scored.devices[i])
    base = step if run.metric == "step_time_s" else tps
    peak = dev.peak(run.precision)
    nap_tps = NAPKIN_MFU * peak / model_flops_per_token(run.spec)
    nap = (
        run.global_batch_tokens / (nap_tps * run.devices)
        if run.metric == "step_time_s"
        else nap_tps
    )
    ratio = run.measured / base if run.metric == "step_time_s" else base / run.measured
    return BasePrediction(
        id=run.id,
        source=run.source,
        stack=run.stack,
        family=run.family or run.accelerator,
        accelerator=run.accelerator,
        metric=run.metric,
        measured=run.measured,
        base=base,
        ratio=ratio,
        napkin=nap,
        whole_run=run.whole_run,
        plan=plan_fields(scored.plans, i),
    )


@functools.lru_cache(maxsize=1)
def base_predictions() -> tuple[tuple[BasePrediction, ...], dict[str, str]]:
    """Base predictions of every checkable row, and the rows not checked with why."""
    catalog = load_catalog()
    out: list[BasePrediction] = []
    skipped: dict[str, str] = {}
    for run in load_runs():
        if run.reason:
            skipped[run.id] = run.reason
            continue
        if run.spec is not None and run.spec.is_moe:
            continue  # cross-validated apart (advisor/moe_fit.py)
        try:
            out.append(base_prediction(run, catalog))
        except Exception as e:  # reported per row, never dropped silently
            skipped[run.id] = f"the model cannot score it: {e}"
    return tuple(out), skipped
