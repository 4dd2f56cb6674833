"""SkyPilot task YAML (sky launch) and its managed-job variant (sky jobs launch).

Field names: skypilot-org/skypilot docs/source/reference/yaml-spec.rst @ 0048bbf6 and
sky/utils/schemas.py (launch-formats.md 1.1); the multi-node torchrun rendezvous:
examples/distributed-pytorch/train-rdzv.yaml @ 08dde4b1 (c10d, MASTER_ADDR = first of
SKYPILOT_NODE_IPS, localhost on the head node, --rdzv-id $SKYPILOT_TASK_ID, which all
recoveries of a managed job share: docs/source/running-jobs/environment-variables.rst);
managed jobs and spot recovery: docs/source/examples/managed-jobs.rst @ 01b85de8.
"""

from __future__ import annotations

import math
import re
from typing import Any

from advisor.launch.data import LaunchFacts
from advisor.launch.plan import LaunchPlan
from advisor.launch.shell import dump_yaml

TASK_FILE = "task.yaml"
MANAGED_FILE = "managed-job.yaml"

# What each framework runs under torchrun, and what the setup installs.
_ENTRY = {
    "megatron": (
        "source megatron_args.sh",
        '~/Megatron-LM/pretrain_gpt.py "${MEGATRON_ARGS[@]}" $TRAIN_DATA_ARGS',
        "[ -d ~/Megatron-LM ] || git clone https://github.com/NVIDIA/Megatron-LM ~/Megatron-LM\n"
        "pip install -e ~/Megatron-LM",
    ),
    "torchtitan": (
        "export PYTHONPATH=$PWD:$PYTHONPATH",
        "-m torchtitan.train --module torchtitan_recipe --config advisor_plan",
        "pip install torch 'torchtitan>=0.3,<0.4'  # the recipe uses 0.3's Python config",
    ),
    "deepspeed": (
        "source trainer_args.sh",
        'train.py "${TRAINER_ARGS[@]}" $TRAIN_DATA_ARGS',
        "pip install torch transformers accelerate deepspeed",
    ),
    "fsdp": (
        "source trainer_args.sh",
        'train.py "${TRAINER_ARGS[@]}" $TRAIN_DATA_ARGS',
        "pip install torch transformers accelerate",
    ),
}


def disk_gb(lp: LaunchPlan, facts: LaunchFacts) -> int:
    """Boot disk per node: a base plus the checkpoints kept (assumptions in launch.yaml)."""
    d = facts.skypilot.disk
    ckpt = lp.est.params * d.checkpoint_bytes_per_param.value * d.checkpoints_kept.value / 1e9
    return int(math.ceil((d.base_gb.value + ckpt) / 64) * 64)


def cloud(lp: LaunchPlan, facts: LaunchFacts) -> tuple[str | None, bool]:
    """(SkyPilot cloud name, whether the offering name is its instance type)."""
    if lp.offering is None or lp.offering.kind != "cloud":
        return None, False
    c = facts.skypilot.clouds.get(lp.offering.provider.lower())
    return (str(c.value), c.instance_types) if c is not None else (None, False)


def resources(lp: LaunchPlan, facts: LaunchFacts, managed: bool) -> dict[str, Any]:
    r: dict[str, Any] = {}
    acc = facts.skypilot.accelerators.get(lp.accelerator)
    if acc is not None:
        r["accelerators"] = f"{acc.value}:{lp.per_node}"
    name, instance_types = cloud(lp, facts)
    if name is not None:
        region = lp.offering.region if lp.offering is not None else None
        # a catalog region that is not a cloud region name ("marketplace (varies)"): cloud only
        ok = region is not None and re.fullmatch(r"[a-z0-9][a-z0-9-]*", region) is not None
        r["infra"] = f"{name}/{region}" if ok else name
        if instance_types and lp.offering is not None:
            r["instance_type"] = lp.offering.name
    r["use_spot"] = True if managed else lp.spot
    r["disk_size"] = disk_gb(lp, facts)
    if managed:
        jr = facts.skypilot.job_recovery
        r["job_recovery"] = {
            "strategy": jr.strategy.value,
            "max_restarts_on_errors": jr.max_restarts_on_errors.value,
        }
    return r


def gaps(lp: LaunchPlan, facts: LaunchFacts) -> list[str]:
    """What the SkyPilot files leave for the user to fill in, said in the README."""
    out = []
    res = resources(lp, facts, managed=False)
    if "accelerators" not in res:
        out.append(
            f"advisor has no sourced SkyPilot accelerator name for {lp.accelerator}: set "
            f"resources.accelerators to NAME:{lp.per_node} (`sky show-gpus` lists the names)"
            + ("" if "instance_type" in res else " or an instance_type")
        )
    if "infra" not in res:
        where = lp.offering.provider if lp.offering is not None else "this hardware"
        out.append(
            f"advisor knows no SkyPilot cloud for {where}: set resources.infra (for example "
            "k8s/<context> or ssh/<pool> for your own machines)"
        )
    return out


def run_script(lp: LaunchPlan, fmt: str | None, port: int, gpus_known: bool) -> str:
    nproc = "$SKYPILOT_NUM_GPUS_PER_NODE" if gpus_known else str(lp.per_node)
    prep, entry, _ = _ENTRY.get(fmt or "", ("", "train.py $TRAIN_DATA_ARGS", ""))
    lines = [
        "set -e",
        'MASTER_ADDR=$(echo "$SKYPILOT_NODE_IPS" | head -n1)',
        # torchrun's hostname-based head detection fails on some clouds (pytorch#79388)
        'if [ "$SKYPILOT_NODE_RANK" -eq 0 ]; then MASTER_ADDR=localhost; fi',
    ]
    if prep:
        lines.append(prep)
    lines.append(
        f"torchrun --nnodes=$SKYPILOT_NUM_NODES --nproc-per-node={nproc} \\\n"
        f"  --rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:{port} "
        "--rdzv-id=$SKYPILOT_TASK_ID --max-restarts=0 \\\n"
        f"  {entry}"
    )
    return "\n".join(lines) + "\n"


def task(lp: LaunchPlan, facts: LaunchFacts, fmt: str | None, managed: bool) -> dict[str, Any]:
    res = resources(lp, facts, managed)
    port = int(facts.skypilot.rdzv_port.value)
    setup = _ENTRY.get(fmt or "", ("", "", "# install your training code here"))[2]
    t: dict[str, Any] = {
        "name": lp.name,
        "num_nodes": lp.nodes,
        "resources": res,
        "workdir": ".",
        "envs": {"TRAIN_DATA_ARGS": ""},
        "file_mounts": {
            # checkpoints survive preemption only in a bucket (managed-jobs.rst)
            "/checkpoint": {"name": f"{lp.name}-checkpoints", "mode": "MOUNT_CACHED"},
        },
        "setup": setup + "\n",
        "run": run_script(lp, fmt, port, "accelerators" in res),
    }
    return t


def render(lp: LaunchPlan, facts: LaunchFacts, fmt: str | None, managed: bool) -> str:
    how = (
        f"sky jobs launch -n {lp.name} {MANAGED_FILE}  (spot, recovered on preemption)"
        if managed
        else f"sky launch -c {lp.name} {TASK_FILE}"
    )
    p = lp.plan
    head = (
        f"# advisor: {lp.model['name']} on {lp.nodes} x {lp.per_node} {lp.accelerator} "
        f"({lp.offering.id if lp.offering else 'no offering'}); dp {p.dp} tp {p.tp} pp {p.pp}"
        f" vpp {p.vpp} cp {p.cp} zero {p.zero}, micro-batch {p.micro_batch}, "
        f"recompute {p.recompute}, {p.precision}\n# run: {how}\n"
        "# TRAIN_DATA_ARGS: your data and tokenizer arguments (README.md)\n"
    )
    return head + dump_yaml(task(lp, facts, fmt, managed))
