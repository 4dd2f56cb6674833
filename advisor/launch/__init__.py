"""Launch bundles: the files that run a scored plan (SkyPilot task and managed job,
the framework's configuration for the plan's stack, and a README with the predictions
and how to check them). One module per target format; `build_bundle` assembles them
and `write_bundle` writes them all or nothing.
"""

from __future__ import annotations

from pathlib import Path

from advisor.launch import deepspeed, hf, megatron, readme, skypilot, torchtitan
from advisor.launch.data import launch_facts
from advisor.launch.plan import LaunchPlan, formats_for
from advisor.launch.write import check_target, write_bundle

__all__ = ["LaunchPlan", "build_bundle", "check_target", "emit", "write_bundle"]


def build_bundle(lp: LaunchPlan) -> dict[str, str]:
    """File name -> text for every file of the bundle."""
    facts = launch_facts()
    interval = int(facts.training.checkpoint_interval_steps.value)
    port = int(facts.skypilot.rdzv_port.value)
    formats, notes = formats_for(lp)
    if lp.est.fits is False:
        notes.insert(0, "the plan does NOT fit in device memory as estimated; it will not run")
    notes += skypilot.gaps(lp, facts)
    files: dict[str, str] = {}
    primary = formats[0] if formats else None
    files[skypilot.TASK_FILE] = skypilot.render(lp, facts, primary, managed=False)
    files[skypilot.MANAGED_FILE] = skypilot.render(lp, facts, primary, managed=True)
    for f in formats:
        if f == "megatron":
            files[megatron.FILE] = megatron.render(lp, interval)
        elif f == "torchtitan":
            files[torchtitan.PY_FILE] = torchtitan.render_python(lp, interval)
            files[torchtitan.TOML_FILE] = torchtitan.render_toml(lp, interval)
        elif f == "deepspeed":
            files[deepspeed.FILE] = deepspeed.render(lp)
            files.setdefault(hf.TRAINER_FILE, hf.render_trainer(lp, "deepspeed", interval))
        elif f == "fsdp":
            files[hf.ACCELERATE_FILE] = hf.render_accelerate(lp, port)
            files[hf.FSDP_CONFIG_FILE] = hf.render_fsdp_config(lp)
            files.setdefault(hf.TRAINER_FILE, hf.render_trainer(lp, "fsdp", interval))
    if primary is not None and len(formats) > 1:
        notes.append(
            f"the SkyPilot files start {primary}; to use another, change the torchrun line in "
            "`run` (each file's header says how it is launched)"
        )
    files["README.md"] = readme.render(lp, facts, list(files), notes)
    return files


def emit(lp: LaunchPlan, target: Path, flag: str = "--emit") -> list[str]:
    """Build the bundle and write it under `target`; the file names written."""
    files = build_bundle(lp)
    write_bundle(target, files, flag)
    return sorted(files)
