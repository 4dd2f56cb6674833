"""What a launch bundle is made from: one scored option and the offering it runs on.

`LaunchPlan` gathers the estimate (`advisor estimate` or one `advisor recommend`
option), the catalog's offering (provider, region, instance type) and the pricing
asked for, and derives the few numbers every target format shares (global batch in
sequences, steps, the layers of the first and last pipeline stages).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from advisor.catalog.schema import Offering
from advisor.describe import EstimateOut

# Formats a bundle can carry, and the stacks (hardware_catalog/stacks.yaml) they serve.
STACK_FORMATS: dict[str, tuple[str, ...]] = {
    "megatron": ("megatron",),
    "torchtitan": ("torchtitan",),
    "deepspeed": ("deepspeed",),
    "fsdp": ("fsdp",),
    "maxtext": (),
    "auto": ("megatron", "torchtitan", "deepspeed", "fsdp"),
}


@dataclass(frozen=True)
class LaunchPlan:
    est: EstimateOut
    offering: Offering | None
    pricing: str = "on-demand"
    memory_headroom: float = 0.1

    @property
    def plan(self) -> Any:
        return self.est.plan

    @property
    def model(self) -> dict[str, Any]:
        return self.est.model

    @property
    def name(self) -> str:
        """A lower-case slug for the task and file names (SkyPilot task names)."""
        slug = re.sub(r"[^a-z0-9]+", "-", str(self.model["name"]).lower()).strip("-")
        return (slug or "model")[:40] + "-train"

    @property
    def accelerator(self) -> str:
        return str(self.est.hardware["accelerator"])

    @property
    def per_node(self) -> int:
        return int(self.est.hardware["devices_per_node"])

    @property
    def nodes(self) -> int:
        return int(self.est.hardware["nodes"])

    @property
    def devices(self) -> int:
        return int(self.est.hardware["devices"])

    @property
    def seq_len(self) -> int:
        return int(self.model["seq_len"])

    @property
    def ep(self) -> int:
        """Expert-parallel degree where the plan has one (MoE layouts), else 1."""
        return int(getattr(self.plan, "ep", 1) or 1)

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step: micro-batch x accumulation x data-parallel replicas."""
        p = self.plan
        return p.micro_batch * p.grad_accum * p.dp

    @property
    def steps(self) -> int:
        """Optimizer steps to train the tokens at this global batch."""
        return max(1, math.ceil(self.est.tokens / (self.global_batch * self.seq_len)))

    @property
    def stack(self) -> str:
        return str((self.est.stack or {}).get("id", "auto"))

    @property
    def uneven_stages(self) -> tuple[int, int] | None:
        """(first, last) stage layers where the pipeline stages are not all equal. Megatron's
        --decoder-first/last-pipeline-num-layers split the rest evenly over the middle stages,
        so the middle keeps the plan's second stage and first/last take what is left: the
        heaviest stage (what the step time and memory rest on) is unchanged."""
        layers = list(self.plan.stage_layers or [])
        if len(layers) < 2 or len(set(layers)) == 1:
            return None
        last = layers[-1]
        middle = layers[1] if len(layers) > 2 else 0
        first = sum(layers) - last - middle * (len(layers) - 2)
        return first, last

    @property
    def spot(self) -> bool:
        return self.pricing == "spot"


def can_express(fmt: str, lp: LaunchPlan) -> str | None:
    """Why `fmt` cannot carry this layout, or None when it can (launch-formats.md 0)."""
    p = lp.plan
    if p.precision == "fp4":
        return "no fp4 recipe flags are in the sources advisor cites for it"
    if fmt in ("deepspeed", "fsdp") and (p.tp > 1 or p.pp > 1 or p.cp > 1 or lp.ep > 1):
        return (
            f"its config has no tensor/pipeline/context/expert sizes (the plan has tp {p.tp}, "
            f"pp {p.pp}, cp {p.cp})"
        )
    if fmt in ("deepspeed", "fsdp") and p.precision == "fp8":
        return "its JSON and the Trainer arguments have bf16/fp16 switches only, no fp8"
    if fmt in ("torchtitan", "fsdp") and p.zero == 1:
        return "it has no ZeRO-1 (sharded optimizer states only); FSDP shards gradients too"
    if fmt == "torchtitan" and p.precision == "fp16":
        return "it trains in bf16/fp32 (fp8 through a converter), not fp16"
    return None


# Accelerators that torchrun + NCCL/RCCL frameworks do not drive (XLA, Neuron, Habana).
NOT_TORCHRUN = ("tpu-", "trainium", "gaudi")


def formats_for(lp: LaunchPlan) -> tuple[list[str], list[str]]:
    """(formats to write, notes on what was left out and why) for the plan's stack."""
    wanted = STACK_FORMATS.get(lp.stack, STACK_FORMATS["auto"])
    notes: list[str] = []
    if lp.accelerator.startswith(NOT_TORCHRUN):
        notes.append(
            f"{lp.accelerator} is not driven by torchrun with these frameworks' GPU back ends: "
            "the files give the layout to port to its own launcher (XLA, Neuron or Habana)"
        )
    if not wanted:
        notes.append(
            f"no framework config is written for the {lp.stack} stack: advisor has no "
            "sourced field names for it; the SkyPilot files start torchrun for PyTorch stacks"
        )
    out = []
    for f in wanted:
        why = can_express(f, lp)
        if why is None:
            out.append(f)
        elif lp.stack != "auto":
            notes.append(f"{f}: {why}")
    if wanted and not out:
        # the stack's own format cannot carry the plan: any format that can
        out = [f for f in STACK_FORMATS["auto"] if can_express(f, lp) is None][:1]
        if out:
            notes.append(f"{out[0]} files are written instead, as they express the plan")
        else:
            notes.append("no framework file is written: no format advisor writes expresses it")
    return out, notes
