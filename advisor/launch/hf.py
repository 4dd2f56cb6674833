"""Hugging Face side of a data-parallel plan: an accelerate FSDP config and the
Trainer arguments (with FSDP, or pointing at the DeepSpeed JSON).

Field names: huggingface/accelerate @ 16cb6eb8 examples/config_yaml_templates/fsdp.yaml,
docs/source/usage_guides/fsdp.md, concept_guides/fsdp1_vs_fsdp2.md; transformers
src/transformers/training_args.py @ 00349ae8 (launch-formats.md 5.2, 5.3).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from advisor.launch.plan import LaunchPlan
from advisor.launch.shell import shell_array

ACCELERATE_FILE = "accelerate_fsdp.yaml"
FSDP_CONFIG_FILE = "fsdp_config.json"
TRAINER_FILE = "trainer_args.sh"

# Llama-style blocks (advisor's shapes); other model classes need their own block name.
LAYER_CLASS = "LlamaDecoderLayer"


def _mixed(precision: str) -> str:
    return {"bf16": "bf16", "fp16": "fp16", "fp8": "fp8"}.get(precision, "no")


def accelerate_config(lp: LaunchPlan, rdzv_port: int) -> dict[str, Any]:
    """FSDP2: reshard after forward = ZeRO-3, not = ZeRO-2; ZeRO-0 is plain DDP (MULTI_GPU)."""
    p = lp.plan
    cfg: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "FSDP" if p.zero in (2, 3) else "MULTI_GPU",
        "mixed_precision": _mixed(p.precision),
        "num_machines": lp.nodes,
        "num_processes": lp.devices,  # total processes, all machines
        "machine_rank": 0,  # set per node: accelerate launch --machine_rank $SKYPILOT_NODE_RANK
        "main_process_ip": "127.0.0.1",  # set per run: the head node's address
        "main_process_port": rdzv_port,
        "rdzv_backend": "c10d",
        "same_network": False,
    }
    if p.zero in (2, 3):
        cfg["fsdp_config"] = {
            "fsdp_version": 2,
            "fsdp_reshard_after_forward": p.zero == 3,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_transformer_layer_cls_to_wrap": LAYER_CLASS,
            "fsdp_offload_params": lp.est.offload == "params",
            "fsdp_state_dict_type": "SHARDED_STATE_DICT",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_activation_checkpointing": p.recompute != "none",
        }
    return cfg


def render_accelerate(lp: LaunchPlan, rdzv_port: int) -> str:
    head = (
        "# accelerate config written by advisor (keys: huggingface/accelerate @ 16cb6eb8).\n"
        "# Launch on each node: accelerate launch --config_file accelerate_fsdp.yaml "
        "--machine_rank $SKYPILOT_NODE_RANK --main_process_ip $MASTER_ADDR train.py\n"
    )
    return head + yaml.safe_dump(accelerate_config(lp, rdzv_port), sort_keys=False)


def fsdp_config(lp: LaunchPlan) -> dict[str, Any]:
    # With FSDP, recompute goes in fsdp_config.activation_checkpointing, not
    # gradient_checkpointing (training_args.py warning, transformers#30404).
    return {
        "fsdp_version": 2,
        "transformer_layer_cls_to_wrap": [LAYER_CLASS],
        "activation_checkpointing": lp.plan.recompute != "none",
    }


def trainer_args(lp: LaunchPlan, stack: str, interval: int) -> list[str]:
    p = lp.plan
    a = [
        "--per_device_train_batch_size", str(p.micro_batch),
        "--gradient_accumulation_steps", str(p.grad_accum),
        "--max_steps", str(lp.steps),
        "--save_steps", str(interval),
        "--output_dir", "/checkpoint",
    ]  # fmt: skip
    if p.precision in ("bf16", "fp16"):
        a.append(f"--{p.precision}")
    if stack == "deepspeed":
        a += ["--deepspeed", "ds_config.json"]
        if p.recompute != "none":
            a.append("--gradient_checkpointing")
    elif p.zero in (2, 3):
        mode = "full_shard" if p.zero == 3 else "shard_grad_op"
        off = " offload" if lp.est.offload == "params" else ""
        a += ["--fsdp", f"{mode} auto_wrap{off}", "--fsdp_config", FSDP_CONFIG_FILE]
    elif p.recompute != "none":
        a.append("--gradient_checkpointing")
    return a


def render_trainer(lp: LaunchPlan, stack: str, interval: int) -> str:
    args = trainer_args(lp, stack, interval)
    return (
        "# Hugging Face TrainingArguments written by advisor "
        "(names: transformers training_args.py @ 00349ae8).\n"
        "# Effective batch = per_device x devices x gradient_accumulation_steps = "
        f"{lp.global_batch} sequences of {lp.seq_len} tokens.\n"
        '# Usage: source trainer_args.sh; torchrun ... train.py "${TRAINER_ARGS[@]}"\n'
        + shell_array("TRAINER_ARGS", args)
    )


def render_fsdp_config(lp: LaunchPlan) -> str:
    return json.dumps(fsdp_config(lp), indent=2) + "\n"
