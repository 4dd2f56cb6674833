"""DeepSpeed JSON config for the plan (data parallel with ZeRO; no TP/PP in this file).

Field names: deepspeedai/DeepSpeed docs/_pages/config-json.md @ edaa7221 and
deepspeed/runtime/zero/config.py (launch-formats.md 5.1): train_batch_size =
train_micro_batch_size_per_gpu x gradient_accumulation_steps x GPUs.
"""

from __future__ import annotations

import json
from typing import Any

from advisor.launch.plan import LaunchPlan

FILE = "ds_config.json"


def ds_config(lp: LaunchPlan) -> dict[str, Any]:
    p = lp.plan
    cfg: dict[str, Any] = {
        "train_batch_size": lp.global_batch,
        "train_micro_batch_size_per_gpu": p.micro_batch,
        "gradient_accumulation_steps": p.grad_accum,
    }
    if p.precision == "bf16":
        cfg["bf16"] = {"enabled": True}
    elif p.precision == "fp16":
        # loss_scale 0 = dynamic loss scaling (config-json.md)
        cfg["fp16"] = {"enabled": True, "loss_scale": 0}
    zero: dict[str, Any] = {"stage": p.zero}
    if p.zero > 0:
        # overlap_comm: the stack's data-parallel overlap (hardware_catalog/stacks.yaml)
        zero |= {"overlap_comm": True, "contiguous_gradients": True}
    offload = lp.est.offload
    if offload in ("optimizer", "params") and p.zero > 0:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if offload == "params" and p.zero == 3:
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    cfg["zero_optimization"] = zero
    return cfg


def render(lp: LaunchPlan) -> str:
    return json.dumps(ds_config(lp), indent=2) + "\n"
