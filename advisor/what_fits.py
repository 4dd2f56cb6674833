"""When nothing fits in memory: what would, evaluated through the model, not guessed.

Each change the user could make is scored by the same search (recommend) or estimate:
QLoRA instead of LoRA (LoRA instead of full fine-tuning), a smaller LoRA rank,
activation checkpointing (recompute full), CPU offload of the optimizer states and of
the parameters (advisor/model/offload.py), and more devices (the smallest count that
fits). Only the changes that fit are reported, each with the option it gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from advisor.errors import AdvisorError
from advisor.finetune.spec import FinetuneSpec
from advisor.ranking import DEFAULT_MAX_DAYS

MORE_DEVICES = 16  # more devices: search up to this many times --max-devices
HORIZON_DAYS = 1e5  # alternatives are scored without a horizon; the limits are said apart


class Alternative(BaseModel):
    """One change that makes the run fit, and the cheapest option it gives."""

    change: str  # the flags to give, e.g. "--method qlora"
    offering: str
    provider: str | None = None
    nodes: int | None = None
    devices: int
    memory: float  # bytes per device
    host_memory_bytes: float | None = None  # per node, under offload
    cost: float | None  # USD for the run
    time_s: float  # time to train
    within_limits: bool | None = None  # within --budget, --deadline and the horizon


def changes(ft: FinetuneSpec | None, offload: str, recompute: str | None) -> list[tuple[str, dict]]:
    """(flags, what to change) for each alternative, cheapest in speed first."""
    out: list[tuple[str, dict[str, Any]]] = []
    if ft is not None and ft.method == "full":
        out.append(("--method lora", {"finetune": ft.model_copy(update={"method": "lora"})}))
    if ft is not None and ft.method == "lora" and ft.quant == "none":
        spec = FinetuneSpec(method="qlora", lora_rank=ft.lora_rank, lora_targets=ft.lora_targets)
        out.append(("--method qlora", {"finetune": spec}))
    if recompute not in (None, "full"):
        out.append(("--recompute full", {"recompute": "full"}))
    if offload == "none":
        out.append(("--offload optimizer", {"offload": "optimizer"}))
    if offload != "params":
        out.append(("--offload params", {"offload": "params"}))
    return out


def smaller_ranks(ft: FinetuneSpec | None) -> list[tuple[str, dict]]:
    """Halvings of the LoRA rank, largest first, down to 1."""
    if ft is None or not ft.adapters:
        return []
    out, r = [], ft.lora_rank // 2
    while r >= 1:
        out.append((f"--lora-rank {r}", {"finetune": ft.model_copy(update={"lora_rank": r})}))
        r //= 2
    return out


def recommend_alternatives(
    run: Callable[..., Any],
    kwargs: dict[str, Any],
    ft: FinetuneSpec | None,
    offload: str,
) -> list[Alternative]:
    """The changes under which recommend finds an option (`run`: recommend with the
    same model and training, `kwargs` the call's own). Recommend already searches
    activation checkpointing, so it is not a change here."""
    budget, deadline = kwargs.get("budget"), kwargs.get("deadline_s")
    days = kwargs.get("max_days")
    horizon = days * 86400 if days else (None if deadline else DEFAULT_MAX_DAYS * 86400)
    limit_s = min(x for x in (deadline, horizon, float("inf")) if x is not None)
    base = {**kwargs, "budget": None, "deadline_s": None, "max_days": HORIZON_DAYS, "top": 1}

    def first(change: str, update: dict[str, Any], fewest: bool = False) -> Alternative | None:
        try:
            out = run(**{**base, **update, "suggest": False})
        except AdvisorError:
            return None
        if not out.options:
            return None
        o = min(out.options, key=lambda o: (o.hardware["devices"], o.cost_usd or 0.0))
        o = o if fewest else out.options[0]
        return Alternative(
            change=change,
            offering=o.offering,
            provider=o.provider,
            nodes=o.nodes,
            devices=o.hardware["devices"],
            memory=o.memory_per_device_bytes.total,
            host_memory_bytes=o.host_memory_bytes,
            cost=o.cost_usd,
            time_s=o.time_to_train_s,
            within_limits=(budget is None or (o.cost_usd or 0.0) <= budget)
            and o.wall_time_s is not None
            and o.wall_time_s <= limit_s,
        )

    found: list[Alternative] = []
    for change, update in changes(ft, offload, None):
        a = first(change, update)
        if a is not None:
            found.append(a)
    ranks = smaller_ranks(ft)
    if ranks and first(*ranks[-1]) is not None:  # rank 1 fits: find the largest that does
        for change, update in ranks:
            a = first(change, update)
            if a is not None:
                found.append(a)
                break
    more = min(kwargs.get("max_devices", 1024) * MORE_DEVICES, 1 << 20)
    a = first(f"--max-devices {more}", {"max_devices": more, "top": 1000}, fewest=True)
    if a is not None:
        found.append(a.model_copy(update={"change": f"--max-devices {a.devices}"}))
    return found


def estimate_alternatives(
    attempt: Callable[..., Any],
    ft: FinetuneSpec | None,
    offload: str,
    recompute: str | None,
    devices: int,
    device_flag: Callable[[int], str],
) -> list[Alternative]:
    """The changes under which `estimate` fits on the same part (`attempt(**change)`
    returns an estimate or raises): the method, rank, checkpointing, offload, and the
    fewest devices (doubling up to 64 times as many)."""
    found: list[Alternative] = []

    def keep(change: str, update: dict[str, Any]) -> bool:
        try:
            out = attempt(**update)
        except AdvisorError:
            return False
        if not out.fits:
            return False
        found.append(
            Alternative(
                change=change,
                offering=out.hardware.get("offering") or out.hardware["accelerator"],
                devices=out.hardware["devices"],
                memory=out.memory_per_device_bytes.total,
                host_memory_bytes=out.host_memory_bytes,
                cost=out.cost_usd,
                time_s=out.time_to_train_s,
            )
        )
        return True

    for change, update in changes(ft, offload, recompute):
        keep(change, update)
    ranks = smaller_ranks(ft)
    if ranks:
        for change, update in ranks:
            if keep(change, update):
                break
    n = devices * 2
    while n <= devices * 64:
        if keep(device_flag(n), {"devices": n}):
            break
        n *= 2
    return found
