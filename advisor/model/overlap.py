"""FSDP / ZeRO-3 communication per layer, and what compute can hide of it.

Fully sharded data parallelism keeps 1/n of every parameter on each rank and, per
wrapped unit (a transformer block), all-gathers the unit's parameters before its
forward, all-gathers them again before its backward (they were freed after forward),
and reduce-scatters the unit's gradients after its backward (Zhao et al. 2023, PyTorch
FSDP, VLDB 16(12), §3; Rajbhandari et al. 2020, ZeRO §5.3). Communication runs on
its own stream; prefetching issues the *next* unit's all-gather while this unit
computes (Zhao et al. §3-4: overlapping communication and computation, backward and
forward prefetching; FSDP2's implicit
forward prefetch and explicit backward prefetch, torchtitan docs/fsdp.md). So per unit
only what its communication lasts beyond its own compute is exposed,
max(0, comm - compute) summed over units, not the whole step's max(0, total - backward):
a small per-device batch gives each block too little compute to cover its gather,
however much compute the step has in total.

What no unit's compute can cover (the ends of the prefetch chain, Zhao et al. §3-4):
- forward: the root unit's all-gather (embedding, and output layer when one stage
  holds it; torchtitan wraps them as the root or as their own units) and the first
  block's, issued before any compute;
- backward: the last block's reduce-scatter and the root's, issued after the last
  compute. The first backward block's gather is covered by the output layer's
  backward (and torchtitan does not free the last block after forward at all).
In backward the next block's all-gather and the previous block's reduce-scatter share
the links during one block's backward, so they add.

Across nodes each collective is hierarchical over the node's NICs, one share per device
(time.dp_reduce_time), so a group that spans nodes pays the inter-node share per layer.

Not modelled, for want of a source with a figure: the slowdown of matmuls while
collectives run beside them (NCCL kernels occupy SMs and memory bandwidth); nothing in
the project's references quantifies it, so hidden communication costs nothing here.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fsdp_exposed_per_microbatch(
    gather_block: Any,
    reduce_block: Any,
    gather_root: Any,
    reduce_root: Any,
    fwd_block: Any,
    bwd_block: Any,
    layers: Any,
) -> Any:
    """Exposed ZeRO-3/FSDP seconds of one micro-batch on one stage of `layers` blocks.

    gather_block/reduce_block: one block's all-gather / reduce-scatter seconds;
    gather_root/reduce_root: the root unit's (embedding, output layer); fwd_block /
    bwd_block: one block's forward / backward (with recomputation) seconds, the window
    that hides the next block's communication (Zhao et al. 2023 §3-4, prefetching)."""
    hidden_units = np.maximum(np.asarray(layers, dtype=float) - 1.0, 0.0)
    forward = (
        gather_root
        + gather_block
        + hidden_units * np.maximum(np.asarray(gather_block) - fwd_block, 0.0)
    )
    backward = (
        hidden_units * np.maximum(np.asarray(gather_block) + reduce_block - bwd_block, 0.0)
        + reduce_block
        + reduce_root
    )
    return forward + backward


def fsdp_total_per_microbatch(
    gather_block: Any, reduce_block: Any, gather_root: Any, reduce_root: Any, layers: Any
) -> Any:
    """All ZeRO-3/FSDP seconds of one micro-batch before overlap: every block gathered
    twice and reduced once, the root (kept gathered from forward to backward) once each."""
    return layers * (2.0 * np.asarray(gather_block) + reduce_block) + gather_root + reduce_root
