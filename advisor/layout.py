"""Which layouts are legal for a model on some hardware, and the checks that say why not."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.errors import UsageError
from advisor.model.parallel import check_cp
from advisor.model.spec import ModelSpec, Recompute

# Fraction of device memory a plan must leave free to be chosen. The accounting counts
# live tensors plus an assumed 1 GiB of overhead; the caching allocator's fragmentation,
# communication buffers and the model's own error (`advisor validate` holds predicted
# peak memory to within 15% of measured) are not in it. A plan at 99% of capacity runs
# out of memory on the first unlucky step; 10% keeps most of that error off the edge
# and costs little, since halving the micro-batch or one more ZeRO stage is usually
# within a few percent of the time. An assumption: `--memory-headroom`.
DEFAULT_MEMORY_HEADROOM = 0.10
# Plans within this fraction of the fastest count as tied, and the simplest of them is
# chosen (`simplicity_key`). 3% is below the model's mean |error| on published runs it
# was not fitted to (5.0%, `advisor accuracy`), so the model cannot rank such plans,
# and it bounds what the preference may cost in time and money.
TIE_TOLERANCE = 0.03

# GPT-3 Table 2.1 batch sizes in tokens by model size (Brown et al. 2020).
GPT3_BATCH_TOKENS = (
    (125e6, 0.5e6),
    (350e6, 0.5e6),
    (760e6, 0.5e6),
    (1.3e9, 1e6),
    (2.7e9, 1e6),
    (6.7e9, 2e6),
    (13e9, 2e6),
    (175e9, 3.2e6),
)


def _nearest_gpt3(n_params: float) -> tuple[float, float]:
    import math

    return min(GPT3_BATCH_TOKENS, key=lambda r: abs(math.log(r[0] / n_params)))


def default_batch_tokens(n_params: float) -> float:
    """GPT-3's batch size for the nearest model size (Table 2.1). It depends on the model
    only, never on the device count; the table's largest, 3.2M tokens (175B), caps it."""
    return _nearest_gpt3(n_params)[1]


def batch_notes(asked: float, used: float, seq_len: int, given: bool, n_params: float) -> list[str]:
    """Where the global batch came from and, when a layout could not give it exactly, how
    it was rounded (the search keeps the asked batch exactly wherever a layout gives it)."""
    notes = []
    if not given:
        size, tokens = _nearest_gpt3(n_params)
        notes.append(
            f"global batch {tokens:,.0f} tokens: GPT-3's for its nearest model size, "
            f"{size / 1e9:g}B (Brown et al. 2020, Table 2.1); capped at the table's largest, "
            f"{max(t for _, t in GPT3_BATCH_TOKENS):,.0f} (175B), and not grown with the "
            "device count; set --global-batch-tokens to choose"
        )
    if abs(used - asked) >= 0.5:
        notes.append(
            f"global batch {asked:,.0f} tokens rounded to {used:,.0f} ({used / asked - 1:+.1%}): "
            f"a step is whole {seq_len}-token sequences, data-parallel replicas x micro-batch x "
            "accumulation steps; no layout on these devices gives the batch exactly, so those "
            "within 5% of it were searched"
        )
    return notes


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_layout(
    spec: ModelSpec, devices: int, per_node: int, tp: int, pp: int, vpp: int = 1, cp: int = 1
) -> None:
    """Raise a UsageError naming the numbers when a layout cannot be built. Pipeline
    stages need not divide the layers (uneven stages, advisor/model/parallel.py), but
    each stage needs one layer, and interleaving one per virtual stage."""
    if tp > per_node:
        raise UsageError(
            f"--tp {tp} is larger than a node ({per_node} devices); "
            "tensor parallelism stays inside a node"
        )
    if per_node % tp:
        raise UsageError(f"--tp {tp} does not divide the {per_node} devices of a node")
    why = check_cp(spec, cp)
    if why:
        raise UsageError(why)
    if devices % (tp * pp * cp):
        parts = [f"--{k} {v}" for k, v in (("tp", tp), ("pp", pp), ("cp", cp)) if v > 1]
        what = " x ".join(parts or ["--pp 1"])
        if len(parts) > 1:
            what += f" = {tp * pp * cp}"
        raise UsageError(f"{what} does not divide the {devices} devices")
    if spec.heads % tp:
        raise UsageError(f"--tp {tp} does not divide the model's {spec.heads} attention heads")
    if spec.n_kv % tp and tp % spec.n_kv:
        raise UsageError(f"--tp {tp} and the model's {spec.n_kv} key/value heads do not divide")
    if pp > spec.layers:
        raise UsageError(
            f"--pp {pp} pipeline stages are more than the model's {spec.layers} layers"
        )
    if vpp > 1 and (pp == 1 or spec.layers < pp * vpp):
        if pp == 1:
            raise UsageError(f"--vpp {vpp} needs pipeline parallelism (--pp > 1)")
        raise UsageError(
            f"--pp {pp} x --vpp {vpp} = {pp * vpp} virtual stages are more than "
            f"the model's {spec.layers} layers"
        )


@dataclass(frozen=True)
class LayoutChoice:
    """Layout fields the user fixed; None means 'choose'."""

    tp: int | None = None
    pp: int | None = None
    cp: int | None = None
    ep: int | None = None
    vpp: int | None = None
    sp: bool | None = None
    zero: int | None = None
    micro_batch: int | None = None
    recompute: Recompute | None = None

    def unset(self) -> list[str]:
        return [k for k, v in self.__dict__.items() if v is None]
