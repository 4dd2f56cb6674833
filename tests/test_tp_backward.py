"""Backward of a transformer block: elementwise gradients and tensor-parallel collectives."""

from __future__ import annotations

import pytest

from advisor.catalog import load_catalog
from advisor.model.device import device_model
from advisor.model.op_time import op_time as _op_time
from advisor.model.ops import block_ops
from advisor.model.presets import preset
from advisor.model.time import Plans, microbatch_stage_time


@pytest.fixture(scope="module")
def dev():
    cat = load_catalog()
    acc = cat.accelerator("a100-sxm4-80gb")
    return device_model(cat, acc, cat.profile_for(acc.id), None, 8, node_bandwidth_gbs=200)


def _block(spec, dev, sp: int, rec: int = 0, tp_overlap: bool = False):
    """(matrix, vector, comm) seconds of one block, forward and backward (pp = layers)."""
    p = Plans.of(dp=1, tp=8, pp=spec.layers, vpp=1, sp=sp, zero=0, mb=4, m=1, rec=rec)
    return microbatch_stage_time(spec, p, dev, "fp16", False, tp_overlap=tp_overlap)[:, 0]


def _fwd(spec, dev, sp: float):
    ops = block_ops(spec, b=4.0, t=8.0, sp=sp, elem=2, causal_fraction=1.0)
    return {o.name: [float(x) for x in _op_time(o, dev, "fp16", 8.0)] for o in ops}


def test_backward_elementwise_moves_the_tensors_its_gradients_need(dev) -> None:
    # Norm, activation and softmax gradients read input and incoming gradient and write one
    # gradient (1.5x the forward's traffic); residual adds move as much as forward (1x).
    spec = preset("gpt3-175b")
    f = _fwd(spec, dev, 0.0)
    head_only = microbatch_stage_time(
        spec,
        Plans.of(dp=1, tp=8, pp=spec.layers, vpp=1, sp=0, zero=0, mb=4, m=1, rec=0),
        dev,
        "fp16",
        False,
    )[1, 0]
    two = microbatch_stage_time(
        spec,
        Plans.of(dp=1, tp=8, pp=spec.layers // 2, vpp=1, sp=0, zero=0, mb=4, m=1, rec=0),
        dev,
        "fp16",
        False,
    )[1, 0]
    per_block_vector = two - head_only  # one more block on the stage
    fwd = sum(v[1] for v in f.values())
    bwd = sum(
        v[1] * (1.5 if n in ("norm_attn", "norm_mlp", "softmax", "mlp_activation") else 1.0)
        for n, v in f.items()
    )
    assert per_block_vector == pytest.approx(fwd + bwd, rel=1e-9)


def test_sequence_parallel_gathers_column_inputs_again_for_weight_gradients(dev) -> None:
    # Backward with SP: reduce-scatter (column input gradient) + all-gather (row output
    # gradient) + the re-gather of the column input, per block half; without overlap.
    spec = preset("gpt3-175b")
    f = _fwd(spec, dev, 1.0)
    fwd_comm = sum(v[2] for v in f.values())
    ag = f["tp_all_gather_attn"][2] + f["tp_all_gather_mlp"][2]
    both = _block(spec, dev, sp=1)
    assert both[2] == pytest.approx(2 * fwd_comm + ag, rel=1e-9)


def test_megatron_overlaps_input_gradient_collectives_with_weight_gradients(dev) -> None:
    # LinearWithGradAccumulationAndAsyncCommunication: only what the GEMM cannot hide shows.
    spec = preset("gpt3-175b")
    f = _fwd(spec, dev, 0.0)
    plain = _block(spec, dev, sp=0)
    hidden = _block(spec, dev, sp=0, tp_overlap=True)
    exposed = sum(
        max(f[red][2] - f[gemm][0], 0.0)
        for red, gemm in (("tp_reduce_attn", "qkv"), ("tp_reduce_mlp", "mlp_up"))
    )
    fwd_comm = f["tp_reduce_attn"][2] + f["tp_reduce_mlp"][2]
    assert plain[2] == pytest.approx(2 * fwd_comm, rel=1e-9)
    assert hidden[2] == pytest.approx(fwd_comm + exposed, rel=1e-9)
    assert hidden[2] < plain[2]


def test_full_recompute_repeats_the_forward_collectives(dev) -> None:
    spec = preset("gpt3-175b")
    f = _fwd(spec, dev, 0.0)
    fwd_comm = sum(v[2] for v in f.values())
    none = _block(spec, dev, sp=0, rec=0)
    full = _block(spec, dev, sp=0, rec=2)
    assert full[2] - none[2] == pytest.approx(fwd_comm, rel=1e-9)
