"""Megatron-LM arguments for pretrain_gpt.py: every layout field of the plan.

Flag names: NVIDIA/Megatron-LM @ d98e8a64 (2026-08-22), megatron/training/arguments.py
and the dataclasses its ArgumentGroupFactory turns into flags
(megatron/core/model_parallel_config.py, transformer_config.py,
training/config/training_config.py), as listed in launch-formats.md section 4.
"""

from __future__ import annotations

from advisor.launch.plan import LaunchPlan
from advisor.launch.shell import shell_array

FILE = "megatron_args.sh"

# ZeRO stage -> Megatron: 1 = distributed optimizer; 2/3 = Megatron FSDP sharding
# strategy (docs/user-guide/parallelism-guide.md: optim_grads = ZeRO-2,
# optim_grads_params = ZeRO-3).
_FSDP_STRATEGY = {2: "optim_grads", 3: "optim_grads_params"}


def layout_args(lp: LaunchPlan) -> list[str]:
    """The parallel layout, batch, recompute and precision flags."""
    p = lp.plan
    a = [
        "--tensor-model-parallel-size", str(p.tp),
        "--pipeline-model-parallel-size", str(p.pp),
        "--context-parallel-size", str(p.cp),
    ]  # fmt: skip
    if lp.ep > 1:
        a += ["--expert-model-parallel-size", str(lp.ep)]
    if p.vpp > 1:
        # No --virtual-pipeline-model-parallel-size flag exists at d98e8a64 (arguments.py 2307).
        a += ["--num-virtual-stages-per-pipeline-rank", str(p.vpp)]
    uneven = lp.uneven_stages
    if uneven is not None:
        a += [
            "--decoder-first-pipeline-num-layers", str(uneven[0]),
            "--decoder-last-pipeline-num-layers", str(uneven[1]),
        ]  # fmt: skip
    if p.sp and p.tp > 1:
        a.append("--sequence-parallel")
    if p.zero == 1:
        a.append("--use-distributed-optimizer")
    elif p.zero in _FSDP_STRATEGY:
        a += ["--use-megatron-fsdp", "--data-parallel-sharding-strategy", _FSDP_STRATEGY[p.zero]]
    a += ["--micro-batch-size", str(p.micro_batch), "--global-batch-size", str(lp.global_batch)]
    if p.recompute == "selective":
        a += ["--recompute-granularity", "selective"]
    elif p.recompute == "full":
        # advisor's full recompute keeps each block's input: uniform, one layer per chunk.
        a += ["--recompute-granularity", "full", "--recompute-method", "uniform"]
        a += ["--recompute-num-layers", "1"]
    a += precision_args(p.precision)
    return a


def precision_args(precision: str) -> list[str]:
    if precision == "bf16":
        return ["--bf16"]
    if precision == "fp16":
        return ["--fp16"]
    if precision == "fp8":
        return ["--bf16", "--fp8-format", "hybrid"]
    return []  # fp32: Megatron's default; fp4 has no flag in the cited sources


def model_args(lp: LaunchPlan) -> list[str]:
    """The model's shape (HF -> Megatron mapping: NeMo HFMixtralImporter @ 02f25a80)."""
    m = lp.model
    heads = int(m["heads"])
    a = [
        "--num-layers", str(m["layers"]),
        "--hidden-size", str(m["hidden"]),
        "--ffn-hidden-size", str(m.get("ffn_hidden") or 4 * int(m["hidden"])),
        "--num-attention-heads", str(heads),
        "--seq-length", str(lp.seq_len),
        "--max-position-embeddings", str(m.get("max_positions") or lp.seq_len),
    ]  # fmt: skip
    if m.get("head_dim"):
        a += ["--kv-channels", str(m["head_dim"])]
    kv = m.get("kv_heads")
    if kv and int(kv) != heads:
        a += ["--group-query-attention", "--num-query-groups", str(kv)]
    if m.get("mlp") == "swiglu":
        a.append("--swiglu")
    if m.get("norm") == "rmsnorm":
        a += ["--normalization", "RMSNorm"]
    if m.get("position") == "rope":
        a += ["--position-embedding-type", "rope"]
    if not m.get("tied_embeddings"):
        a.append("--untie-embeddings-and-output-weights")
    if not m.get("linear_bias"):
        a.append("--disable-bias-linear")
    if m.get("qkv_bias"):
        a.append("--add-qkv-bias")
    if int(m.get("experts") or 1) > 1:
        a += ["--num-experts", str(m["experts"]), "--moe-router-topk", str(m.get("top_k", 1))]
    return a


def training_args(lp: LaunchPlan, interval: int) -> list[str]:
    return [
        "--train-iters", str(lp.steps),
        "--save-interval", str(interval),
        "--save", "/checkpoint",
        "--load", "/checkpoint",
    ]  # fmt: skip


def megatron_args(lp: LaunchPlan, interval: int) -> list[str]:
    return [*model_args(lp), *layout_args(lp), *training_args(lp, interval)]


def render(lp: LaunchPlan, interval: int) -> str:
    args = megatron_args(lp, interval)
    return (
        "# Megatron-LM arguments for pretrain_gpt.py, written by advisor.\n"
        "# Flag names: NVIDIA/Megatron-LM @ d98e8a64 (arguments.py and the config dataclasses).\n"
        "# Add your data and tokenizer flags in TRAIN_DATA_ARGS (task.yaml envs).\n"
        '# Usage: source megatron_args.sh; torchrun ... pretrain_gpt.py "${MEGATRON_ARGS[@]}"\n'
        + shell_array("MEGATRON_ARGS", args)
    )
