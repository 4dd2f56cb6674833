"""The microbenchmark suite behind `advisor bench`.

Each benchmark is one module with `run(ctx)` (in the bench process) or
`run_dist(ctx, env)` (in every torchrun worker) returning typed rows
(advisor/benchmarks/results.py). Importing this package imports no torch.
"""

from __future__ import annotations

# name -> (where it runs, what it measures); the suite runs them in this order.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "storage": ("local", "sequential read of a scratch file, page cache bypassed"),
    "membw": ("local", "memory bandwidth: STREAM copy and triad, fresh allocations; host-device"),
    "matmul": ("local", "matmul TFLOP/s against shape and dtype"),
    "attention": ("local", "naive attention against scaled_dot_product_attention"),
    "elementwise": ("local", "norm, GELU, softmax cross-entropy and casts as elements per second"),
    "allocator": ("local", "mid-size training step: peak memory against live tensors, step time"),
    "adam": ("local", "AdamW step (for-loop, foreach, fused) as bytes per second"),
    "amp": ("local", "training step: fp32 against bf16/fp16 autocast"),
    "lora": ("local", "LoRA step: frozen base, trainable adapters (PEFT where installed)"),
    "overhead": ("local", "framework memory overhead of a training process"),
    "prefill": ("local", "serving: prompts through the small GPT in one pass, tokens/s"),
    "decode": ("local", "serving: one token per sequence against a KV cache, tokens/s by batch"),
    "collectives": ("dist", "all-reduce, all-gather, reduce-scatter: algbw and busbw"),
    "ddp": ("dist", "DistributedDataParallel scaling from 1 to N processes"),
    "pipeline": ("dist", "pipeline parallel (torch.distributed.pipelining), 1F1B"),
    "tensor_parallel": ("dist", "tensor parallel with DTensor (Megatron split)"),
    "fsdp": ("dist", "FSDP2 (fully_shard) training"),
}


def names(kind: str | None = None) -> list[str]:
    return [n for n, (k, _) in BENCHMARKS.items() if kind is None or k == kind]
