"""Result records of the benchmark suite, and how they are written.

A results file is one `BenchFile`: the environment it ran in, the run's
settings, and one `BenchResult` per benchmark, each holding typed rows (one row
per measured case). The file is rewritten atomically after every benchmark, so
an interrupted run keeps what finished. Everything here is pydantic and numpy
free of torch, so `advisor calibrate` can read results without importing torch.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from advisor.benchmarks.record import GPTShape, Record, Stats
from advisor.benchmarks.train_request import (  # noqa: F401  (re-exported)
    LoraRequest,
    TrainMeasurement,
    TrainRequest,
)

SCHEMA_VERSION = 1


class MatmulRow(Record):
    kind: Literal["matmul"] = "matmul"
    dtype: str = Field(description="fp32, tf32, bf16, fp16 or fp8 (e4m3 inputs).")
    mode: Literal["native", "autocast"] = Field(
        description="native: inputs in the dtype; autocast: fp32 inputs under torch.autocast."
    )
    m: int
    n: int
    k: int
    flops: float = Field(description="2·m·n·k")
    time: Stats
    tflops: float = Field(description="flops / median time / 1e12")


class AttentionRow(Record):
    kind: Literal["attention"] = "attention"
    impl: Literal["naive", "sdpa"]
    direction: Literal["forward", "forward_backward", "backward"] = Field(
        description="backward: the backward pass alone, timed on a retained graph."
    )
    causal: bool
    dtype: str
    batch: int
    heads: int
    seq_len: int
    head_dim: int
    flops: float = Field(description="See advisor/benchmarks/attention.py for the convention.")
    time: Stats
    tflops: float


class OptimizerRow(Record):
    kind: Literal["optimizer"] = "optimizer"
    optimizer: Literal["adam", "adamw"]
    impl: Literal["for-loop", "foreach", "fused"]
    default_impl: bool = Field(description="What torch picks when the user passes neither flag.")
    params: int = Field(description="Parameters updated per step.")
    tensors: int
    bytes_moved: float = Field(description="Bytes read and written per step (see adam.py).")
    time: Stats
    gbs: float = Field(description="bytes_moved / median time / 1e9")


class TrainStepRow(Record):
    kind: Literal["train_step"] = "train_step"
    precision: Literal["fp32", "bf16-autocast", "fp16-autocast"]
    grad_scaler: bool
    model: GPTShape
    params: int
    tokens: int = Field(description="Tokens per step.")
    time: Stats
    tokens_per_s: float
    speedup_vs_fp32: float | None = None
    loss: float


class VectorRow(Record):
    """One elementwise operator over `elements` values (advisor/benchmarks/elementwise.py)."""

    kind: Literal["vector"] = "vector"
    op: Literal["norm", "activation", "softmax", "cast"] = Field(
        description="norm: layer_norm; activation: gelu; softmax: cross_entropy over rows; "
        "cast: conversion between fp32 and `dtype`."
    )
    impl: str = Field(description="The torch call measured.")
    dtype: str = Field(description="dtype the operator runs in (for cast: the other side).")
    direction: Literal["forward", "forward_backward"]
    rows: int
    width: int
    elements: int = Field(description="rows x width")
    time: Stats
    gelems: float = Field(description="elements / median time / 1e9")


class BandwidthRow(Record):
    kind: Literal["bandwidth"] = "bandwidth"
    kernel: Literal["copy", "triad", "fill", "alloc", "h2d", "d2h"]
    dtype: str
    elements: int
    bytes_moved: float = Field(
        description="STREAM counting: copy 2N, triad 3N; fill, alloc (fresh tensor) and "
        "transfers N."
    )
    pinned: bool | None = None
    time: Stats
    gbs: float


class CollectiveRow(Record):
    kind: Literal["collective"] = "collective"
    op: Literal["all_reduce", "all_gather", "reduce_scatter"]
    backend: str
    world_size: int
    dtype: str
    bytes: float = Field(description="nccl-tests size: the full buffer (output of all-gather).")
    bus_factor: float = Field(description="busbw / algbw (nccl-tests PERFORMANCE.md).")
    time: Stats
    algbw_gbs: float
    busbw_gbs: float


class DistTrainRow(Record):
    kind: Literal["dist_train"] = "dist_train"
    strategy: Literal["ddp", "pipeline", "tensor_parallel", "fsdp2"]
    backend: str
    world_size: int = Field(description="Processes taking part in this measurement.")
    model: GPTShape
    tokens: int = Field(description="Tokens per step over all processes.")
    time: Stats
    tokens_per_s: float
    scaling_efficiency: float | None = Field(
        default=None, description="tokens/s per process relative to one process (DDP)."
    )
    loss: float
    detail: str | None = None


class StorageRow(Record):
    kind: Literal["storage"] = "storage"
    path: str
    file_bytes: int
    block_bytes: int
    cache_bypass: Literal["o_direct", "fadvise", "none"]
    time: Stats
    mbps: float = Field(description="MB/s (1e6 bytes) of one sequential pass.")


class OverheadRow(Record):
    kind: Literal["overhead"] = "overhead"
    device: str
    precision: str = "fp32"
    model: GPTShape
    params: int
    baseline_bytes: float = Field(description="Memory after the framework is imported.")
    peak_bytes: float = Field(description="Peak memory during training steps, above baseline.")
    tensor_bytes: float = Field(description="Weights, gradients and AdamW moments: 16/param.")
    overhead_bytes: float = Field(description="peak - tensors: the framework's own memory.")
    tokens: int | None = Field(default=None, description="Tokens per training step.")
    time: Stats | None = Field(
        default=None, description="Step time of the probe: almost all fixed per-operator cost."
    )


class AllocatorRow(Record):
    """Peak memory against peak live tensors of a mid-size training process."""

    kind: Literal["allocator"] = "allocator"
    device: str
    precision: str = "fp32"
    model: GPTShape
    params: int
    peak_bytes: float = Field(description="Peak memory during training steps, above baseline.")
    allocated_bytes: float = Field(
        description="Peak bytes of live tensors in one step (CUDA: max_memory_allocated; "
        "CPU: the profiler's allocation events)."
    )
    time: Stats


class LoraStepRow(Record):
    """One LoRA training step: frozen base, trainable adapters, AdamW on the adapters."""

    kind: Literal["lora_step"] = "lora_step"
    impl: Literal["peft", "torch"]
    precision: Literal["fp32", "bf16-autocast", "fp16-autocast"]
    model: GPTShape
    rank: int
    alpha: float
    targets: list[str]
    params: int = Field(description="Every parameter, adapters included.")
    trainable_params: int
    tokens: int = Field(description="Tokens per step.")
    time: Stats
    tokens_per_s: float
    peak_bytes: float = Field(description="Peak memory during training, above baseline.")
    peak_method: str
    allocated_bytes: float | None = Field(
        default=None,
        description="Peak live tensor bytes of one more step (CPU: the profiler's allocation "
        "events; CUDA: max_memory_allocated): peak - allocated is allocator slack + framework.",
    )
    loss: float


class GenerateRow(Record):
    """Generation on the small GPT with a KV cache (advisor/benchmarks/generate.py): a prefill of
    `prompt_len` tokens per sequence, or one decode step per sequence at `context`."""

    kind: Literal["generate"] = "generate"
    phase: Literal["prefill", "decode"]
    device: str
    precision: Literal["fp32", "bf16"]
    model: GPTShape
    params: int
    batch: int = Field(ge=1)
    prompt_len: int = Field(ge=1)
    context: int = Field(ge=1, description="Tokens in the KV cache a step attends to.")
    tokens: int = Field(ge=1, description="Tokens per timed call.")
    time: Stats
    tokens_per_s: float


Row = Annotated[
    MatmulRow
    | AttentionRow
    | OptimizerRow
    | TrainStepRow
    | BandwidthRow
    | CollectiveRow
    | DistTrainRow
    | StorageRow
    | OverheadRow
    | VectorRow
    | AllocatorRow
    | LoraStepRow
    | GenerateRow,
    Field(discriminator="kind"),
]


class BenchResult(Record):
    """What one benchmark measured (or why it did not)."""

    name: str
    status: Literal["ok", "skipped", "failed"]
    reason: str | None = None
    device: str
    started: dt.datetime
    wall_s: float = Field(ge=0)
    rows: list[Row] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class DeviceInfo(Record):
    index: int
    name: str
    memory_bytes: float | None = None
    capability: str | None = None


class Environment(Record):
    """Where the results were measured."""

    hostname: str
    platform: str
    python: str
    cpu_model: str
    cpu_cores_physical: int
    cpu_cores_logical: int
    cpu_flags: list[str] = Field(description="Vector and matrix ISA flags only.")
    memory_bytes: int
    torch_version: str | None = None
    torch_git: str | None = None
    torch_cuda: str | None = None
    torch_cudnn: int | None = None
    torch_hip: str | None = None
    threads: int | None = None
    device: str
    devices: list[DeviceInfo] = Field(default_factory=list)
    driver: str | None = None


class RunConfig(Record):
    quick: bool
    device: str
    nproc: int
    threads: int | None
    only: list[str] | None = None


class BenchFile(Record):
    """One run of `advisor bench`."""

    schema_version: Literal[1] = SCHEMA_VERSION
    tool: str = "advisor bench"
    created: dt.datetime
    finished: bool = Field(default=False, description="False while running or if interrupted.")
    wall_s: float | None = None
    config: RunConfig
    env: Environment
    results: list[BenchResult] = Field(default_factory=list)

    def result(self, name: str) -> BenchResult | None:
        return next((r for r in self.results if r.name == name), None)


# Writing and reading results files: advisor/benchmarks/record_io.py (re-exported).
from advisor.benchmarks.record_io import (  # noqa: E402, F401
    atomic_write_text,
    check_writable,
    read_bench_file,
    to_json,
    write_record,
)
