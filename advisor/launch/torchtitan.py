"""torchtitan configuration: a Python recipe for current torchtitan and a TOML file
for torchtitan <= 0.2.2.

Field names: TOML, pytorch/torchtitan torchtitan/config/job_config.py @ v0.2.2
(launch-formats.md 3.2); Python, torchtitan 0.3.0 as published on PyPI
(torchtitan/config/configs.py TrainingConfig/ParallelismConfig, components/checkpointer/
base.py, models/llama3/config_registry.py, config/manager.py --module/--config). The
0.3.0 release keeps local_batch_size/global_batch_size/seq_len; the later HEAD
b5bcd76c (launch-formats.md 3.3) renames them to token counts.
"""

from __future__ import annotations

from advisor.launch.plan import LaunchPlan

PY_FILE = "torchtitan_recipe.py"
TOML_FILE = "torchtitan.toml"
RECIPE = "advisor_plan"

# Shipped llama3 flavors and their config_registry builders (torchtitan 0.3.0).
_FLAVORS = (
    ("405b", "405B", "llama3_405b"),
    ("70b", "70B", "llama3_70b"),
    ("8b", "8B", "llama3_8b"),
)


def flavor(lp: LaunchPlan) -> tuple[str, str, bool]:
    """(flavor, builder, exact): the llama3 flavor whose shape this is, else the 8B as a base."""
    name = str(lp.model["name"]).lower()
    for key, fl, builder in _FLAVORS:
        if "llama-3" in name and name.endswith(key):
            return fl, builder, True
    return "8B", "llama3_8b", False


def degrees(lp: LaunchPlan) -> dict[str, object]:
    """[parallelism] for the plan: FSDP shards over dp for ZeRO-2/3 (reshard 'never' = ZeRO-2),
    DDP replicates for ZeRO-0 (job_config.py @ v0.2.2)."""
    p = lp.plan
    d: dict[str, object] = {}
    if p.zero == 0:
        d["data_parallel_replicate_degree"] = p.dp
        d["data_parallel_shard_degree"] = 1
    else:
        d["data_parallel_replicate_degree"] = 1
        d["data_parallel_shard_degree"] = p.dp
        d["fsdp_reshard_after_forward"] = "never" if p.zero == 2 else "default"
    d["tensor_parallel_degree"] = p.tp
    d["pipeline_parallel_degree"] = p.pp
    if p.pp > 1:
        d["pipeline_parallel_microbatch_size"] = p.micro_batch
        if p.vpp > 1:
            # looped schedule; layers per virtual stage ~ (L + embedding + output) / (pp v)
            d["pipeline_parallel_schedule"] = "Interleaved1F1B"
            d["pipeline_parallel_layers_per_stage"] = max(
                1, round((int(lp.model["layers"]) + 2) / (p.pp * p.vpp))
            )
        else:
            d["pipeline_parallel_schedule"] = "1F1B"
        uneven = lp.uneven_stages
        if uneven is not None:
            full = max(lp.plan.stage_layers)
            d["pipeline_parallel_first_stage_less_layers"] = full - uneven[0]
            d["pipeline_parallel_last_stage_less_layers"] = full - uneven[1]
    d["context_parallel_degree"] = p.cp
    if lp.ep > 1:
        d["expert_parallel_degree"] = lp.ep
    return d


def _mode(recompute: str) -> str:
    return {"none": "none", "selective": "selective", "full": "full"}[recompute]


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


def toml_sections(lp: LaunchPlan, interval: int) -> dict[str, dict[str, object]]:
    p = lp.plan
    fl, _, _exact = flavor(lp)
    model: dict[str, object] = {"name": "llama3", "flavor": fl}
    if p.precision == "fp8":
        model["converters"] = ["quantize.linear.float8"]
    return {
        "job": {"dump_folder": "./outputs", "description": f"advisor plan for {lp.model['name']}"},
        "model": model,
        "training": {
            "local_batch_size": p.micro_batch,
            "global_batch_size": lp.global_batch,
            "seq_len": lp.seq_len,
            "steps": lp.steps,
            "mixed_precision_param": "float32" if p.precision == "fp32" else "bfloat16",
        },
        "parallelism": degrees(lp),
        "activation_checkpoint": {"mode": _mode(p.recompute)},
        "checkpoint": {"enable": True, "folder": "/checkpoint", "interval": interval},
    }


def render_toml(lp: LaunchPlan, interval: int) -> str:
    _, _, exact = flavor(lp)
    head = [
        "# torchtitan <= 0.2.2 job config, written by advisor "
        "(field names: torchtitan/config/job_config.py @ v0.2.2).",
        "# Launch: torchrun ... -m torchtitan.train --job.config_file torchtitan.toml",
    ]
    if not exact:
        head.append(
            f"# model.flavor is a stand-in: {lp.model['name']} is not a shipped torchtitan "
            "flavor; register one with its shape (see README.md)."
        )
    out = head
    for section, fields in toml_sections(lp, interval).items():
        out.append(f"\n[{section}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
    return "\n".join(out) + "\n"


def render_python(lp: LaunchPlan, interval: int) -> str:
    p = lp.plan
    fl, builder, exact = flavor(lp)
    par = ",\n        ".join(f"{k}={v!r}" for k, v in degrees(lp).items())
    ac = {"none": "None", "selective": "SelectiveAC.Config()", "full": "FullAC.Config()"}
    mp = "float32" if p.precision == "fp32" else "bfloat16"
    shape = (
        ""
        if exact
        else (
            f"    # {lp.model['name']} is not a shipped torchtitan flavor: the {fl} model_spec\n"
            "    # stands in; replace it with one of this shape (README.md).\n"
        )
    )
    if p.precision == "fp8":
        # as llama3_405b() in torchtitan 0.3.0's llama3 config_registry
        spec = (
            "    config.compile = CompileConfig(enable=True)\n"
            f"    config.model_spec = model_registry(\n        {fl!r},\n"
            "        converters=[\n            Float8LinearConverter.Config(\n"
            '                filter_fqns=["lm_head"], model_compile_enabled=True\n'
            "            )\n        ],\n    )\n"
        )
        fp8_import = "from torchtitan.components.quantization import Float8LinearConverter\n"
        config_names = "CompileConfig, ParallelismConfig, TrainingConfig"
    else:
        # explicit, so that a base with converters (llama3_405b: fp8) trains as planned
        spec = f"    config.model_spec = model_registry({fl!r})\n"
        fp8_import = ""
        config_names = "ParallelismConfig, TrainingConfig"
    return f'''"""torchtitan recipe written by advisor for {lp.model["name"]}.

Field names: torchtitan 0.3.0 (torchtitan/config/configs.py, models/llama3/config_registry.py).
Launch: torchrun ... -m torchtitan.train --module torchtitan_recipe --config {RECIPE}
"""

{fp8_import}from torchtitan.config import {config_names}
from torchtitan.distributed.activation_checkpoint import FullAC, SelectiveAC  # noqa: F401
from torchtitan.models.llama3 import model_registry
from torchtitan.models.llama3.config_registry import {builder}


def {RECIPE}():
    config = {builder}()
{shape}{spec}    config.parallelism = ParallelismConfig(
        {par},
    )
    config.training = TrainingConfig(
        local_batch_size={p.micro_batch},
        global_batch_size={lp.global_batch},
        seq_len={lp.seq_len},
        steps={lp.steps},
        mixed_precision_param={mp!r},
    )
    config.activation_checkpoint = {ac[p.recompute]}
    config.checkpoint.enable = True
    config.checkpoint.folder = "/checkpoint"
    config.checkpoint.interval = {interval}
    return config
'''
