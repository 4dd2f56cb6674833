"""Score serving configurations held as numpy arrays (one element per configuration):
memory, the largest batch, the load point, throughput and cost per million tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.model.params import ParamCounts
from advisor.model.spec import ModelSpec
from advisor.serve import memory as mem
from advisor.serve.load import Point, solve
from advisor.serve.time import Rates, prefill_time, step_time


@dataclass(frozen=True)
class Configs:
    """Per configuration (arrays or scalars that broadcast)."""

    wbytes: Any  # bytes per weight
    kvbytes: Any  # bytes per KV element
    tp: Any
    pp: Any
    devices: Any  # in all replicas together
    device_bytes: Any
    overhead: Any  # runtime bytes per device outside the model
    kv_fraction: Any
    rates: Rates
    a_ttft: Any = 1.0
    price_per_hour: Any = np.nan  # all devices together


@dataclass(frozen=True)
class Scored:
    weights: Any
    kv_per_token: Any
    activations: Any
    overhead: Any
    kv_budget: Any
    max_batch: Any
    replicas: Any
    point: Point
    output_tokens_per_s: Any
    tokens_per_s: Any
    requests_per_s: Any
    cost_per_million_output: Any
    cost_per_million_input: Any
    cost_per_million_tokens: Any

    @property
    def fits(self) -> Any:
        return self.max_batch >= 1


def score(
    spec: ModelSpec,
    counts: ParamCounts,
    c: Configs,
    input_len: int,
    output_len: int,
    mode: str,
    load: float | None,
    seq_cap: float | None,
    batched_tokens: float,
) -> Scored:
    tp = np.asarray(c.tp, dtype=float)
    pp = np.asarray(c.pp, dtype=float)
    replicas = np.asarray(c.devices, dtype=float) / (tp * pp)
    wdev = mem.weight_bytes_per_device(counts, c.wbytes, tp, pp)
    kv_tok = mem.kv_bytes_per_token(spec, c.kvbytes, tp, pp)
    held = mem.mean_tokens_held(input_len, output_len)
    seqs = seq_cap or batched_tokens
    act = mem.activation_bytes(spec, batched_tokens, min(seqs, batched_tokens), tp)
    budget = mem.kv_budget(c.device_bytes, wdev, act, c.overhead, c.kv_fraction)
    mb = mem.max_batch(budget, kv_tok, held, seq_cap)
    # Stages run one after another for a token (no micro-batch interleaving): a step
    # reads every stage's weights and KV cache and does all the FLOPs over tp devices.
    w_all, kv_all = wdev * pp, kv_tok * pp

    def step(b: Any) -> Any:
        return step_time(counts, spec, b, input_len, output_len, w_all, kv_all, tp, tp, c.rates)

    pre = prefill_time(counts, spec, input_len, w_all, tp, tp, c.rates)
    per_replica = None if load is None else load / replicas
    pt = solve(mode, per_replica, mb, output_len, step, pre, c.a_ttft)
    out_tps = pt.output_tokens_per_s * replicas
    tps = out_tps * (input_len + output_len) / output_len
    hourly = np.asarray(c.price_per_hour, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_m_out = hourly / (out_tps * 3600.0) * 1e6
        per_m_all = hourly / (tps * 3600.0) * 1e6
        # Input tokens are charged the share of step time their prompts take.
        share = np.clip(pt.step.prefill_compute / pt.step.time, 0.0, 1.0)
        in_tps = out_tps * input_len / output_len
        per_m_in = hourly * share / (in_tps * 3600.0) * 1e6
    return Scored(
        wdev,
        kv_tok,
        act,
        np.asarray(c.overhead, dtype=float),
        budget,
        mb,
        replicas,
        pt,
        out_tps,
        tps,
        out_tps / output_len,
        per_m_out,
        per_m_in,
        per_m_all,
    )
