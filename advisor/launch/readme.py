"""The bundle's README: what was chosen, the predictions with their ranges, and how to
check them in the first steps of the real run."""

from __future__ import annotations

from advisor.launch.data import LaunchFacts
from advisor.launch.plan import LaunchPlan
from advisor.units import format_bytes, format_duration, format_money

_FILES = {
    "task.yaml": "SkyPilot task: `sky launch -c NAME task.yaml` (the priced option as chosen)",
    "managed-job.yaml": "SkyPilot managed job on spot with recovery: `sky jobs launch -n NAME "
    "managed-job.yaml`",
    "megatron_args.sh": "Megatron-LM arguments (`MEGATRON_ARGS`) for pretrain_gpt.py",
    "torchtitan_recipe.py": "torchtitan recipe (current releases, `--module torchtitan_recipe "
    "--config advisor_plan`)",
    "torchtitan.toml": "torchtitan <= 0.2.2 job config (`--job.config_file torchtitan.toml`)",
    "ds_config.json": "DeepSpeed config (HF Trainer `--deepspeed ds_config.json`)",
    "accelerate_fsdp.yaml": "accelerate config (`accelerate launch --config_file ...`)",
    "fsdp_config.json": "HF Trainer `--fsdp_config`",
    "trainer_args.sh": "HF TrainingArguments (`TRAINER_ARGS`)",
}


def _range(lp: LaunchPlan, key: str, fmt) -> str:  # type: ignore[no-untyped-def]
    r = (lp.est.range or {}).get(key) or {}
    if r.get("low") is None:
        return "no range (no comparable published runs)"
    return f"range {fmt(r['low'])} to {fmt(r['high'])}"


def _s(v: float) -> str:
    return f"{v:.3g} s"


def render(lp: LaunchPlan, facts: LaunchFacts, files: list[str], notes: list[str]) -> str:
    e, p = lp.est, lp.plan
    off = lp.offering
    where = f"{off.id} ({off.provider}, {off.region or 'any region'})" if off else "no offering"
    mem = e.memory_per_device_bytes
    cap = e.memory_capacity_bytes or 0.0
    basis = (e.range or {}).get("basis") or {}
    n_check = int(facts.training.check_steps.value)
    skip = int(facts.training.warmup_steps_skipped.value)
    tok_step = lp.global_batch * lp.seq_len
    out = [
        f"# Launch bundle: {lp.model['name']} ({e.params:,} parameters)",
        "",
        "Written by `advisor`. Every file here comes from one scored plan; change a layout",
        "field in one file and the others (and the predictions below) no longer agree.",
        "",
        "## What was chosen",
        "",
        f"- hardware: {lp.nodes} node(s) x {lp.per_node} {e.hardware.get('name', lp.accelerator)}"
        f" = {lp.devices} devices, {where}, {lp.pricing}",
        f"- stack: {lp.stack}",
        f"- layout: dp {p.dp}, tp {p.tp}, pp {p.pp} (stage layers {p.stage_layers}), vpp {p.vpp}"
        f", cp {p.cp}, ep {lp.ep}, sequence parallel {'on' if p.sp else 'off'}, ZeRO {p.zero}",
        f"- batch: micro-batch {p.micro_batch}, gradient accumulation {p.grad_accum}, global "
        f"{lp.global_batch} sequences x {lp.seq_len} tokens = {tok_step:,} tokens per step",
        f"- recompute {p.recompute}, precision {p.precision}, {lp.steps:,} steps for "
        f"{e.tokens:,.0f} tokens",
        "",
        "## Predicted",
        "",
        f"- step time {_s(e.step_time_s)} ({_range(lp, 'step_time_s', _s)})",
        f"- tokens/s per device {e.tokens_per_s_per_device:,.0f} "
        f"({_range(lp, 'tokens_per_s_per_device', lambda v: f'{v:,.0f}')}); MFU {e.mfu:.1%}",
        f"- memory per device {format_bytes(mem.total)} of {format_bytes(cap)}: weights "
        f"{format_bytes(mem.weights)}, gradients {format_bytes(mem.gradients)}, optimizer "
        f"{format_bytes(mem.optimizer)}, activations {format_bytes(mem.activations)}, other "
        f"{format_bytes(mem.other)}. No cross-validated range is shipped for memory (the "
        f"published runs report none); the plan leaves {lp.memory_headroom:.0%} of the device "
        "free for the memory model's error.",
        f"- time to train {format_duration(e.time_to_train_s)} "
        f"({_range(lp, 'time_to_train_s', format_duration)})"
        + (
            f"; cost {format_money(e.cost_usd)} ({_range(lp, 'cost_usd', format_money)})"
            if e.cost_usd is not None
            else ""
        ),
    ]
    if basis:
        out.append(
            f"- ranges: 10th-90th percentile of the cross-validated error on {basis.get('count')}"
            f" comparable published runs ({basis.get('group')}; `advisor accuracy`)"
        )
    lo_hi = ((e.range or {}).get("step_time_s")) or {}
    hi = lo_hi.get("high", e.step_time_s)
    lo = lo_hi.get("low", e.step_time_s)
    out += [
        "",
        f"## Check it in the first {n_check} steps",
        "",
        f"1. Run {n_check} steps (set the step count to {n_check} in the framework file) and "
        f"leave out steps 1-{skip} (compilation, allocator warm-up).",
        f"2. Step time: the mean of steps {skip + 1}-{n_check} as your framework logs it "
        f"should fall in {_s(lo)} to {_s(hi)}. Tokens per step are {tok_step:,}, so tokens/s "
        f"per device = {tok_step:,} / step time / {lp.devices}.",
        "3. Memory: on the first pipeline stage (rank 0), `torch.cuda.max_memory_allocated()` "
        f"after step {n_check} should be near {format_bytes(mem.total)} and below "
        f"{format_bytes(cap * (1 - lp.memory_headroom))}; `nvidia-smi` shows more (CUDA "
        "context, the allocator's cache).",
        "4. Slower than the range: check that the layout in the logs is the one above, that "
        "inter-node traffic uses the fast network (NCCL_DEBUG=INFO), and that data loading "
        "keeps up. Out of memory: raise recompute, or re-run advisor with a larger "
        "`--memory-headroom`.",
        "",
        "## Files",
        "",
    ]
    out += [f"- `{f}`: {_FILES.get(f, '')}" for f in files if f != "README.md"]
    out += [
        "",
        "Before launching: put your data and tokenizer arguments in `TRAIN_DATA_ARGS` "
        "(task envs), rename the checkpoint bucket in `file_mounts`, and check the install "
        "lines in `setup`.",
    ]
    if notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"
