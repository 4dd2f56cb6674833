"""What an estimate says about a MoE model: the checks of a fixed expert-parallel degree
and the assumptions behind MoE figures (advisor/model/moe.py)."""

from __future__ import annotations

from typing import Any

from advisor.errors import UsageError
from advisor.model.moe import check_ep, dropped_share, expert_load
from advisor.model.params import ParamCounts
from advisor.model.spec import ModelSpec, TrainingSpec


def check_moe_layout(spec: ModelSpec, devices: int, choice: Any) -> None:
    """One clear line when --ep cannot be used on this model and device count."""
    ep = choice.ep
    if not ep or ep == 1:
        return
    why = check_ep(spec, ep)
    if why is None and choice.pp and (devices // choice.pp) % ep:
        why = (
            f"--ep {ep} must divide the {devices // choice.pp} ranks of a pipeline stage "
            f"(tp x cp x dp = {devices} devices / --pp {choice.pp})"
        )
    if why is None and devices % ep:
        why = f"--ep {ep} does not divide the {devices} devices"
    if why:
        raise UsageError(why)


def moe_assumptions(spec: ModelSpec, training: TrainingSpec, counts: ParamCounts) -> list[str]:
    """The MoE and attention-variant notes an estimate prints."""
    notes: list[str] = []
    if spec.is_moe:
        notes.append(
            f"MoE: {counts.total:,} parameters in total, {counts.active:,} active per token "
            f"({spec.top_k} of {spec.experts} routed experts"
            + (f" + {spec.shared_experts} shared" if spec.shared_experts else "")
            + "); FLOPs count the active ones, memory the total (experts split by --ep)"
        )
        if training.tokens is None:
            notes.append(
                "the 20 tokens per parameter default counts the TOTAL parameters of the MoE "
                "model, not the active ones; give --tokens for another budget"
            )
        load = expert_load(training)
        if load == 1.0:
            notes.append(
                "MoE expert load balanced (imbalance 1.0, as the published MoE benchmarks "
                "force-balance tokens): real routing is slower; --moe-imbalance to weigh it"
            )
        else:
            notes.append(
                f"MoE busiest expert at {load:.2f} x the mean: routed compute and all-to-all "
                "stretched by it (advisor/model/moe.py)"
            )
        drop = dropped_share(training)
        if drop > 0:
            notes.append(
                f"capacity factor {training.capacity_factor:g} drops {drop:.0%} of the busiest "
                "expert's tokens (not trained on)"
            )
        notes.append(
            "expert parallelism: experts whole on each rank (expert tensor parallel 1), "
            "ep carved out of tp x cp x dp; the all-to-all is not overlapped with compute"
        )
    if spec.mtp_layers:
        notes.append(
            f"{spec.mtp_layers} multi-token prediction module(s) add "
            f"{counts.mtp:,} parameters, not in the total; their compute is in the FLOPs and "
            "step time (one block and output head each, on the last stage), their memory is "
            "not (the first stage is the one reported)"
        )
    return notes
