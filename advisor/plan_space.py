"""Which layouts exist: for one device type and node size, the cartesian product of
tensor parallel (dividing heads and the node), pipeline parallel (dividing layers),
virtual stages, context and sequence parallel, ZeRO stage, micro-batch and
recomputation for each device count, as numpy arrays (`enumerate_plans`), and the
order in which equally fast layouts are preferred (`simplicity_key`)."""

from __future__ import annotations

import numpy as np

from advisor.layout import LayoutChoice, divisors
from advisor.model.parallel import check_cp
from advisor.model.spec import ModelSpec
from advisor.model.time import REC_CODES, Plans

MICRO_BATCHES = (1, 2, 4, 8, 16, 32)
VIRTUAL_STAGES = (1, 2, 3, 4, 6, 8)
# Context-parallel degrees searched (Megatron and torchtitan runs use powers of two);
# each must split the sequence into 2·cp equal chunks (parallel.check_cp).
CONTEXT_PARALLEL = (1, 2, 4, 8, 16, 32)
# An assumption, from the published runs rather than a measurement of its own: the search
# gives a rank no fewer than 4096 tokens of a sequence, the smallest per-rank share among
# the published context-parallel runs (NeMo 24.07 Llama3-8B and Megatron-Bridge Llama 3.1
# 405B, 8192 tokens on CP 2; NeMo's long-sequence tables use CP only from 32K, at 16K per
# rank). The model does not charge what short chunks really cost (small attention tiles,
# a kernel per ring step on top of its per-matmul time); --cp N scores any degree.
CP_MIN_TOKENS_PER_RANK = 4096


def simplicity_key(
    zero: np.ndarray,
    tp: np.ndarray,
    pp: np.ndarray,
    vpp: np.ndarray,
    mb: np.ndarray,
    rec: np.ndarray,
    cp: np.ndarray | int = 1,
    ep: np.ndarray | int = 1,
) -> np.ndarray:
    """Order of preference among tied plans, smaller is simpler: lower ZeRO stage, then
    fewer parallel dimensions in use (tp, pp, vpp, cp > 1), then smaller micro-batch, then
    less recomputation (none < selective < full). Integer, lexicographic."""
    dims = (np.asarray(tp) > 1).astype(np.int64) + (np.asarray(pp) > 1) + (np.asarray(vpp) > 1)
    dims = dims + (np.asarray(cp) > 1) + (np.asarray(ep) > 1)
    mb_rank = np.log2(np.maximum(np.asarray(mb), 1)).astype(np.int64)  # < 64 for mb < 2^64
    return ((np.asarray(zero, dtype=np.int64) * 4 + dims) * 64 + mb_rank) * 3 + np.asarray(rec)


def _pipeline_degrees(spec: ModelSpec) -> list[int]:
    """Stage counts searched: those dividing the layers, and powers of two up to the
    layers, which give uneven stages (Llama 3 405B: 126 layers on 16)."""
    powers = [2**k for k in range(spec.layers.bit_length()) if 2**k <= spec.layers]
    return sorted(set(divisors(spec.layers)) | set(powers))


def _legal_cp(spec: ModelSpec) -> list[int]:
    return [
        c
        for c in CONTEXT_PARALLEL
        if c == 1 or (check_cp(spec, c) is None and spec.seq_len // c >= CP_MIN_TOKENS_PER_RANK)
    ]


def legal_ep(spec: ModelSpec) -> list[int]:
    """Expert-parallel degrees searched: the powers of two dividing the experts (1 for a
    dense model); each must also divide tp·cp·dp (advisor/model/moe.py)."""
    if not spec.is_moe:
        return [1]
    return [e for e in (2**k for k in range(13)) if e <= spec.experts and spec.experts % e == 0]


def _legal_tp(spec: ModelSpec, per_node: int) -> list[int]:
    return [
        t
        for t in divisors(per_node)
        if spec.heads % t == 0 and (spec.n_kv % t == 0 or t % spec.n_kv == 0)
    ]


# Where no layout gives the asked batch exactly (it is not a whole number of sequences,
# or no data-parallel width on that device count divides it), layouts within this share
# of it are accepted and the rounding is stated in the output. An assumption (a judgement
# that a few percent of batch size does not change the run), not a measured figure.
BATCH_TOLERANCE = 0.05


def nearest_batch(n: np.ndarray, seqs: np.ndarray, want: float, ok: np.ndarray) -> np.ndarray:
    """Plans that honour the batch (`want` sequences) on their device count: exactly where
    any legal plan (`ok`) of that count gives it, else within BATCH_TOLERANCE of it, else
    the nearest that count allows."""
    miss = np.abs(seqs - want)
    counts, inv = np.unique(n, return_inverse=True)
    best = np.full(counts.size, np.inf)
    np.minimum.at(best, inv[ok], miss[ok])
    limit = np.where(best < 1e-9, 0.0, np.maximum(best, BATCH_TOLERANCE * want))
    return miss <= limit[inv] + 1e-9


def _product(*axes: list[int]) -> list[np.ndarray]:
    """Every combination of the axes' values (the first varies slowest), one int64 array
    per axis."""
    grids = np.meshgrid(*(np.asarray(a, dtype=np.int64) for a in axes), indexing="ij")
    return [g.ravel() for g in grids]


def enumerate_plans(
    spec: ModelSpec,
    device_counts: list[int],
    per_node: int,
    batch_tokens: float,
    choice: LayoutChoice | None = None,
    flash_attention: bool = True,
    zero_stages: tuple[int, ...] = (0, 1, 2, 3),
) -> Plans:
    """All legal plans for each device count, honouring what the user fixed, built as a
    numpy grid and filtered by masks. With flash attention selective recomputation
    equals none, so it is not enumerated apart. `zero_stages`: the ZeRO stages the
    software stack offers (searched when the user fixes none)."""
    choice = choice or LayoutChoice()
    tps = [choice.tp] if choice.tp else _legal_tp(spec, per_node)
    pps = [choice.pp] if choice.pp else _pipeline_degrees(spec)
    cps = [choice.cp] if choice.cp else _legal_cp(spec)
    eps = [choice.ep] if choice.ep else legal_ep(spec)
    vpps = [choice.vpp] if choice.vpp else list(VIRTUAL_STAGES)
    mbs = [choice.micro_batch] if choice.micro_batch else list(MICRO_BATCHES)
    zeros = [choice.zero] if choice.zero is not None else list(zero_stages)
    if choice.recompute:
        recs = [REC_CODES[choice.recompute]]
    else:
        recs = [0, 2] if flash_attention else [0, 1, 2]
    # Device counts x tp x pp x cp x ep first (few), then every legal tuple x the other axes.
    n, tp, pp, cp, ep = _product(device_counts, tps, pps, cps, eps)
    keep = (n % (tp * pp * cp) == 0) & (per_node % tp == 0) & (pp <= spec.layers)
    keep &= (n // np.maximum(pp, 1)) % ep == 0  # ep divides tp·cp·dp (advisor/model/moe.py)
    n, tp, pp, cp, ep = n[keep], tp[keep], pp[keep], cp[keep], ep[keep]
    rest = _product(vpps, mbs, zeros, recs)
    r = rest[0].size
    n, tp, pp, cp = np.repeat(n, r), np.repeat(tp, r), np.repeat(pp, r), np.repeat(cp, r)
    ep = np.repeat(ep, r)
    vpp, mb, zero, rec = (np.tile(a, keep.sum()) for a in rest)
    ok = np.ones(n.size, dtype=bool)
    dp = np.maximum(n // (tp * pp * cp), 1)
    want = max(batch_tokens / spec.seq_len, 1.0)  # sequences per step asked for
    m = np.maximum(np.rint(want / (mb * dp)), 1).astype(np.int64)
    # One micro-step of every replica must fit in the batch: more replicas than the batch
    # has sequences would grow it with the device count (tp/pp must take the devices).
    ok &= mb * dp <= want
    if choice.zero is None:
        ok &= (zero == 0) | (dp * cp > 1)  # sharding over one replica changes nothing
    if not choice.vpp:
        interleave_ok = (pp > 1) & (spec.layers % (pp * vpp) == 0) & (m % pp == 0)
        ok &= (vpp == 1) | interleave_ok
    ok &= nearest_batch(n, dp * mb * m, want, ok)
    sp = (tp > 1).astype(np.int64) if choice.sp is None else np.full_like(tp, int(choice.sp))
    idx = np.flatnonzero(ok)
    return Plans(
        dp[idx],
        tp[idx],
        pp[idx],
        vpp[idx],
        sp[idx],
        zero[idx],
        mb[idx],
        m[idx],
        rec[idx],
        cp[idx],
        ep[idx],
    )
