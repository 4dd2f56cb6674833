"""Software stacks as model inputs: which conventions a named stack applies.

A stack (hardware_catalog/stacks.yaml) says whether attention runs a fused (flash)
kernel, whether data-parallel/FSDP communication overlaps backward, whether
tensor-parallel backward collectives overlap the GEMMs, which ZeRO stages it offers,
and (once fitted) a matmul-efficiency multiplier per accelerator family. The user's
--flash-attention/--dp-overlap flags override the stack. Pure functions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from advisor.catalog import Catalog
from advisor.catalog.schema import Stack
from advisor.errors import UsageError, unknown
from advisor.model.device import DeviceModel, EfficiencyCurve

DEFAULT_STACK = "auto"


@dataclass(frozen=True)
class StackConventions:
    """What the model applies for one stack after the user's overrides."""

    id: str
    flash_attention: bool
    dp_overlap: bool
    tp_overlap: bool
    zero_stages: tuple[int, ...]
    efficiency: float | None = None  # matmul-efficiency multiplier for this accelerator
    overridden: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The `stack` object of the JSON outputs."""
        return {
            "id": self.id,
            "flash_attention": self.flash_attention,
            "dp_overlap": self.dp_overlap,
            "tp_overlap": "backward" if self.tp_overlap else "none",
            "zero_stages": list(self.zero_stages),
            "efficiency": self.efficiency,
            "overridden": list(self.overridden),
        }

    def notes(self) -> list[str]:
        """One assumption line naming the stack and what it applies."""
        attn = (
            "flash attention (causal kernels do half the attention matmul work)"
            if self.flash_attention
            else "no flash attention (softmax over the full s x s scores in memory)"
        )
        dp = "overlaps" if self.dp_overlap else "does not overlap"
        tp = (
            "backward TP collectives beside the GEMMs"
            if self.tp_overlap
            else "TP collectives exposed"
        )
        given = f" (set by --{', --'.join(self.overridden)})" if self.overridden else ""
        eff = (
            f"; fitted matmul efficiency x{self.efficiency:.3g}"
            if self.efficiency is not None
            else ""
        )
        return [
            f"stack '{self.id}'{given}: {attn}; data-parallel communication {dp} backward; "
            f"{tp}; ZeRO stages {', '.join(map(str, self.zero_stages))}{eff}"
        ]


def find_stack(catalog: Catalog, name: str | None) -> Stack:
    """The catalog stack by id or alias; an unknown name is a usage error with the nearest."""
    key = (name or DEFAULT_STACK).strip()
    try:
        return catalog.stack(key)
    except UsageError:
        names = sorted(catalog.stacks) + sorted(
            a for s in catalog.stacks.values() for a in s.aliases
        )
        raise unknown("stack", key, names) from None


def accelerator_family(accelerator_id: str) -> str:
    """The family an efficiency applies to: the id up to its first '-' ('h100-sxm5-80gb'
    -> 'h100'), TPUs by generation ('tpu-v5p')."""
    parts = accelerator_id.split("-")
    return "-".join(parts[:2]) if parts[0] == "tpu" else parts[0]


def stack_efficiency(stack: Stack, accelerator_id: str) -> float | None:
    """The fitted multiplier for this accelerator (by id, else family), None if none."""
    fig = stack.efficiency.get(accelerator_id) or stack.efficiency.get(
        accelerator_family(accelerator_id)
    )
    return fig.value if fig is not None else None


def conventions(
    stack: Stack,
    accelerator_id: str | None = None,
    flash_attention: bool | None = None,
    dp_overlap: bool | None = None,
) -> StackConventions:
    """The stack's settings with the user's overrides (None: the stack's own)."""
    overridden = tuple(
        flag
        for flag, given, own in (
            (
                "flash-attention" if flash_attention else "no-flash-attention",
                flash_attention,
                stack.flash_attention.value,
            ),
            ("dp-overlap" if dp_overlap else "no-dp-overlap", dp_overlap, stack.dp_overlap.value),
        )
        if given is not None and given != own
    )
    return StackConventions(
        id=stack.id,
        flash_attention=stack.flash_attention.value if flash_attention is None else flash_attention,
        dp_overlap=stack.dp_overlap.value if dp_overlap is None else dp_overlap,
        tp_overlap=stack.tp_overlap.value == "backward",
        zero_stages=tuple(sorted(set(stack.zero_stages.value))),
        efficiency=stack_efficiency(stack, accelerator_id) if accelerator_id else None,
        overridden=overridden,
    )


def resolve(
    catalog: Catalog,
    name: str | None,
    flash_attention: bool | None = None,
    dp_overlap: bool | None = None,
) -> StackConventions:
    """Conventions of the named stack (default 'auto'), accelerator not yet known."""
    return conventions(find_stack(catalog, name), None, flash_attention, dp_overlap)


def for_accelerator(
    catalog: Catalog, conv: StackConventions, accelerator_id: str
) -> StackConventions:
    """The same conventions with the stack's fitted efficiency for this accelerator."""
    eff = stack_efficiency(catalog.stack(conv.id), accelerator_id)
    return dataclasses.replace(conv, efficiency=eff)


def _scaled(curve: EfficiencyCurve, f: float) -> EfficiencyCurve:
    return EfficiencyCurve(
        min(curve.max_efficiency * f, 1.0),
        curve.sizes,
        tuple(min(v * f, 1.0) for v in curve.values),
    )


def apply_efficiency(dev: DeviceModel, conv: StackConventions) -> DeviceModel:
    """The device with its matmul efficiency multiplied by the stack's fitted figure, when
    the stack has one for it; unchanged otherwise."""
    if conv.efficiency is None:
        return dev
    return dataclasses.replace(
        dev, matmul={k: _scaled(c, conv.efficiency) for k, c in dev.matmul.items()}
    )
