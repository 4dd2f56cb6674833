"""ZeRO-3 / FSDP communication per block (advisor/model/overlap.py): prefetch hides the
next block's all-gather behind this block's compute, never the whole step's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from advisor.catalog import load_catalog
from advisor.model.device import device_model
from advisor.model.overlap import fsdp_exposed_per_microbatch
from advisor.model.params import count_params
from advisor.model.presets import preset
from advisor.model.time import Plans, dp_reduce_time, step_time
from advisor.search import enumerate_plans


def _a100(node_gbs: float):
    cat = load_catalog()
    acc = cat.accelerator("a100-sxm4-80gb")
    dev = device_model(cat, acc, cat.profile_for(acc.id), None, 8, node_bandwidth_gbs=node_gbs)
    return dataclasses.replace(dev, time_factor=1.0)  # the analytic model alone


def _ends(spec, plans: Plans, dev) -> np.ndarray:
    """What no block's compute covers: the root's and the first block's all-gathers
    before forward, the last block's and the root's reduce-scatters after backward."""
    c = count_params(spec)
    block, root = c.per_layer * 2.0, (c.embedding + c.output + c.final_norm) * 2.0  # bf16
    return (
        dp_reduce_time(root, plans, dev, "all_gather")
        + dp_reduce_time(block, plans, dev, "all_gather")
        + dp_reduce_time(block, plans, dev, "reduce_scatter")
        + dp_reduce_time(root, plans, dev, "reduce_scatter")
    )


def _zero3(dp, mb=1, m=1, rec=1) -> Plans:
    return Plans.of(dp=dp, tp=1, pp=1, vpp=1, sp=0, zero=3, mb=mb, m=m, rec=rec)


def test_blocks_hide_their_gathers_but_the_ends_stay_exposed() -> None:
    # Llama 3 8B on one A100 node, two 8K sequences per device: every block's compute
    # covers its gather, yet the first gathers and the last reduce-scatters have nothing
    # to hide behind, once per micro-batch.
    spec, dev = preset("llama-3-8b"), _a100(200)
    for m in (1, 3):
        plans = _zero3(dp=8, mb=2, m=m)
        st = step_time(spec, plans, dev, "bf16")
        ends = _ends(spec, plans, dev) * m
        assert ends[0] > 0
        assert st.dp_comm_exposed[0] == pytest.approx(ends[0], rel=1e-9)


def test_small_batch_exposes_what_each_block_cannot_cover() -> None:
    # Short sequences, one per device, 64 devices on 300 GB/s nodes, full recomputation:
    # the step's communication is shorter than its compute, so a whole-step rule
    # (max(0, total - compute)) hides it all; per block, a gather outlasts the block's
    # forward, and that excess is exposed on top of the ends.
    spec = preset("llama-2-7b").model_copy(update={"seq_len": 1024})
    dev = _a100(300)
    plans = _zero3(dp=64, rec=2)
    st = step_time(spec, plans, dev, "bf16")
    assert st.dp_comm_total[0] < st.compute[0] + st.memory_bound[0]
    assert st.dp_comm_exposed[0] > 1.5 * _ends(spec, plans, dev)[0]


def test_fsdp_across_nodes_pays_the_nic_share_per_block() -> None:
    # Same work per device: within one node the NVLink gathers hide; across eight nodes
    # on 25 GB/s NICs each block's gather takes the node's NIC share and shows.
    spec, dev = preset("llama-3-8b"), _a100(25)
    st = step_time(spec, _zero3(dp=[8, 64]), dev, "bf16")
    within, across = st.dp_comm_exposed
    assert across > 3 * within > 0


def test_prefetch_rule_per_block_against_the_whole_step() -> None:
    # A gather 20% longer than a block's forward, hidden over the step by the longer
    # backward (full recomputation), is exposed per block: 31 prefetched blocks x 0.2.
    a, fwd, bwd, layers = 1.2, 1.0, 3.0, 32
    whole_step = max(0.0, layers * 3 * a - layers * (fwd + bwd))
    per_block = fsdp_exposed_per_microbatch(a, a, 0.0, 0.0, fwd, bwd, layers)
    assert whole_step == 0.0
    assert per_block == pytest.approx(a + (layers - 1) * (a - fwd) + a)


def test_exposed_never_exceeds_the_communication() -> None:
    spec, dev = preset("llama-3-8b"), _a100(25)
    plans = enumerate_plans(spec, [16, 64, 256], 8, 2**21)
    plans = plans.take(plans.zero == 3)
    st = step_time(spec, plans, dev, "bf16")
    assert len(plans) > 100
    assert np.all(st.dp_comm_exposed <= st.dp_comm_total * (1 + 1e-9))
    one = step_time(spec, plans.take(slice(7, 8)), dev, "bf16")
    assert one.dp_comm_exposed[0] == pytest.approx(st.dp_comm_exposed[7])
