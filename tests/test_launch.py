"""Launch bundles (advisor/launch/): `advisor emit`, `recommend --emit`, `report --emit`.

The files' own parsers (SkyPilot's schema, DeepSpeed's config class, ...) check them
in tests/test_launch_parsers.py; here: what each file says, against the estimate the
same flags give, and the bundle is written all or nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import assert_user_error

PLAN = ("--model", "llama-3-8b", "--offering", "aws-p5.48xlarge", "--nodes", "2")
PLAN += ("--tp", "2", "--pp", "2")


def bash_array(path: Path, name: str) -> list[str]:
    """The argv a bash `NAME=( ... )` file gives (what the task's run passes on)."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    out = subprocess.run(
        ["bash", "-c", f'source "$1"; printf "%s\\0" "${{{name}[@]}}"', "_", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [a for a in out.split("\0") if a]


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def emit(cli, out: Path, *args: str) -> dict:  # type: ignore[no-untyped-def]
    """Write a bundle and return the estimate the same flags give."""
    r = cli("emit", "--out", str(out), *args)
    assert r.code == 0, r.err
    assert f"wrote {out}" in r.err
    est = cli("estimate", *args, "--json")
    assert est.code == 0, est.err
    return json.loads(est.out)


def test_emit_writes_skypilot_task_and_managed_job(cli, tmp_path) -> None:
    out = tmp_path / "bundle"
    est = emit(cli, out, *PLAN)
    task = yaml.safe_load((out / "task.yaml").read_text())
    hw = est["hardware"]
    assert task["num_nodes"] == hw["nodes"] == 2
    res = task["resources"]
    assert res["accelerators"] == f"H100:{hw['devices_per_node']}"
    assert res["infra"] == "aws/us-east-1"
    assert res["instance_type"] == "p5.48xlarge"
    assert res["use_spot"] is False
    # disk: base + kept checkpoints of 16 bytes per parameter (advisor/data/launch.yaml)
    assert res["disk_size"] >= 256 + 2 * 16 * est["params"] / 1e9
    run = task["run"]
    assert 'MASTER_ADDR=$(echo "$SKYPILOT_NODE_IPS" | head -n1)' in run
    assert "--nnodes=$SKYPILOT_NUM_NODES" in run
    assert "--nproc-per-node=$SKYPILOT_NUM_GPUS_PER_NODE" in run
    assert "--rdzv-backend=c10d --rdzv-endpoint=$MASTER_ADDR:29500" in run
    assert "--rdzv-id=$SKYPILOT_TASK_ID" in run
    managed = yaml.safe_load((out / "managed-job.yaml").read_text())
    assert managed["resources"]["use_spot"] is True
    assert managed["resources"]["job_recovery"]["strategy"] == "EAGER_NEXT_REGION"
    assert managed["file_mounts"]["/checkpoint"]["mode"] == "MOUNT_CACHED"
    assert managed["run"] == run


def test_megatron_args_carry_the_estimated_layout(cli, tmp_path) -> None:
    out = tmp_path / "b"
    est = emit(cli, out, *PLAN)
    p = est["plan"]
    args = bash_array(out / "megatron_args.sh", "MEGATRON_ARGS")
    assert flag(args, "--tensor-model-parallel-size") == str(p["tp"])
    assert flag(args, "--pipeline-model-parallel-size") == str(p["pp"])
    assert flag(args, "--context-parallel-size") == str(p["cp"])
    assert flag(args, "--micro-batch-size") == str(p["micro_batch"])
    gb = p["micro_batch"] * p["grad_accum"] * p["dp"]
    assert flag(args, "--global-batch-size") == str(gb)
    assert ("--sequence-parallel" in args) == (p["sp"] and p["tp"] > 1)
    m = est["model"]
    assert flag(args, "--num-layers") == str(m["layers"])
    assert flag(args, "--num-query-groups") == str(m["kv_heads"])
    assert flag(args, "--seq-length") == str(m["seq_len"])
    steps = -(-est["tokens"] // (gb * m["seq_len"]))
    assert flag(args, "--train-iters") == str(int(steps))
    # the task's run starts Megatron with these arguments
    assert '"${MEGATRON_ARGS[@]}"' in yaml.safe_load((out / "task.yaml").read_text())["run"]


@pytest.mark.parametrize(
    ("layout", "expect", "absent"),
    [
        (
            ("--tp", "8", "--pp", "3", "--vpp", "2", "--zero", "1", "--recompute", "selective",
             "--precision", "fp8"),
            {"--num-virtual-stages-per-pipeline-rank": "2", "--fp8-format": "hybrid",
             "--recompute-granularity": "selective"},
            ("--use-megatron-fsdp",),
        ),
        (
            ("--tp", "4", "--pp", "4", "--cp", "2", "--zero", "1", "--recompute", "full"),
            {"--context-parallel-size": "2", "--recompute-granularity": "full",
             "--recompute-method": "uniform", "--recompute-num-layers": "1"},
            ("--decoder-first-pipeline-num-layers",),
        ),
        (
            ("--tp", "8", "--pp", "3", "--zero", "3"),
            {"--data-parallel-sharding-strategy": "optim_grads_params"},
            ("--use-distributed-optimizer",),
        ),
    ],
)  # fmt: skip
def test_every_layout_field_reaches_megatron(cli, tmp_path, layout, expect, absent) -> None:
    out = tmp_path / "b"
    est = emit(
        cli, out, "--model", "llama-3-70b", "--accelerator", "h100", "--count", "96", *layout
    )
    args = bash_array(out / "megatron_args.sh", "MEGATRON_ARGS")
    for k, v in expect.items():
        assert flag(args, k) == v, k
    for k in absent:
        assert k not in args
    p = est["plan"]
    assert ("--use-distributed-optimizer" in args) == (p["zero"] == 1)
    stages = p["stage_layers"]
    if len(set(stages)) > 1:
        # uneven stages: first + middle x (pp-2) + last = all layers, the heaviest kept
        first = int(flag(args, "--decoder-first-pipeline-num-layers"))
        last = int(flag(args, "--decoder-last-pipeline-num-layers"))
        middle = (est["model"]["layers"] - first - last) / (p["pp"] - 2) if p["pp"] > 2 else 0
        assert middle == int(middle)
        assert max(first, last, middle) == max(stages)


def test_uneven_405b_stages_split_evenly_for_megatron(cli, tmp_path) -> None:
    out = tmp_path / "b"
    est = emit(
        cli, out, "--model", "llama-3-405b", "--accelerator", "h100", "--count", "2048",
        "--tp", "8", "--pp", "16",
    )  # fmt: skip
    args = bash_array(out / "megatron_args.sh", "MEGATRON_ARGS")
    first = int(flag(args, "--decoder-first-pipeline-num-layers"))
    last = int(flag(args, "--decoder-last-pipeline-num-layers"))
    rest = est["model"]["layers"] - first - last
    assert rest % 14 == 0 and rest // 14 == max(est["plan"]["stage_layers"])


def test_torchtitan_recipe_and_toml_map_the_layout(cli, tmp_path) -> None:
    import tomllib

    out = tmp_path / "b"
    est = emit(
        cli, out, "--model", "llama-3-70b", "--accelerator", "h100", "--count", "64",
        "--tp", "8", "--pp", "2", "--zero", "2", "--stack", "torchtitan", "--recompute", "full",
    )  # fmt: skip
    p = est["plan"]
    cfg = tomllib.loads((out / "torchtitan.toml").read_text())
    par = cfg["parallelism"]
    assert par["tensor_parallel_degree"] == p["tp"]
    assert par["pipeline_parallel_degree"] == p["pp"]
    assert par["data_parallel_shard_degree"] == p["dp"]
    assert par["fsdp_reshard_after_forward"] == "never"  # ZeRO-2
    assert cfg["training"]["local_batch_size"] == p["micro_batch"]
    assert cfg["training"]["global_batch_size"] == p["micro_batch"] * p["grad_accum"] * p["dp"]
    assert cfg["activation_checkpoint"]["mode"] == "full"
    assert cfg["model"]["flavor"] == "70B"
    recipe = (out / "torchtitan_recipe.py").read_text()
    compile(recipe, "torchtitan_recipe.py", "exec")
    assert "FullAC.Config()" in recipe and f"tensor_parallel_degree={p['tp']}" in recipe
    run = yaml.safe_load((out / "task.yaml").read_text())["run"]
    assert "-m torchtitan.train --module torchtitan_recipe --config advisor_plan" in run
    assert not (out / "megatron_args.sh").exists()  # the stack's own format only


def test_deepspeed_and_fsdp_stacks_write_their_configs(cli, tmp_path) -> None:
    base = ("--model", "llama-3-8b", "--accelerator", "h100", "--count", "16", "--tp", "1")
    base += ("--pp", "1", "--zero", "3", "--recompute", "full")
    est = emit(cli, tmp_path / "ds", *base, "--stack", "deepspeed")
    p = est["plan"]
    ds = json.loads((tmp_path / "ds" / "ds_config.json").read_text())
    assert (
        ds["train_batch_size"]
        == ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * p["dp"]
    )
    assert ds["zero_optimization"]["stage"] == 3 and ds["bf16"] == {"enabled": True}
    targs = bash_array(tmp_path / "ds" / "trainer_args.sh", "TRAINER_ARGS")
    assert flag(targs, "--deepspeed") == "ds_config.json" and "--gradient_checkpointing" in targs
    emit(cli, tmp_path / "fsdp", *base, "--stack", "fsdp")
    acc = yaml.safe_load((tmp_path / "fsdp" / "accelerate_fsdp.yaml").read_text())
    assert acc["distributed_type"] == "FSDP" and acc["num_processes"] == 16
    assert acc["num_machines"] == 2
    assert acc["fsdp_config"]["fsdp_reshard_after_forward"] is True  # ZeRO-3
    targs = bash_array(tmp_path / "fsdp" / "trainer_args.sh", "TRAINER_ARGS")
    assert flag(targs, "--fsdp") == "full_shard auto_wrap"
    fsdp = json.loads((tmp_path / "fsdp" / "fsdp_config.json").read_text())
    assert fsdp["activation_checkpointing"] is True  # not gradient_checkpointing, with FSDP
    assert "--gradient_checkpointing" not in targs


def test_readme_states_predictions_with_range_and_the_check(cli, tmp_path) -> None:
    out = tmp_path / "b"
    est = emit(cli, out, *PLAN)
    text = (out / "README.md").read_text()
    r = est["range"]["step_time_s"]
    assert f"step time {est['step_time_s']:.3g} s" in text
    assert f"{r['low']:.3g} s to {r['high']:.3g} s" in text
    assert "first 50 steps" in text and "max_memory_allocated" in text
    assert "aws-p5.48xlarge" in text


def test_recommend_emit_writes_the_top_option(cli, tmp_path) -> None:
    """Acceptance: `advisor recommend --params 7B --budget 50k --emit out/`."""
    out = tmp_path / "out"
    r = cli("recommend", "--params", "7B", "--budget", "50k", "--emit", str(out))
    assert r.code == 0, r.err
    top = json.loads(cli("recommend", "--params", "7B", "--budget", "50k", "--json").out)
    top = top["options"][0]
    task = yaml.safe_load((out / "task.yaml").read_text())
    assert task["num_nodes"] == top["nodes"]
    assert top["offering"] in (out / "task.yaml").read_text().splitlines()[0]
    frameworks = {"megatron_args.sh", "torchtitan.toml", "ds_config.json", "accelerate_fsdp.yaml"}
    assert frameworks & {f.name for f in out.iterdir()}
    args = bash_array(out / "megatron_args.sh", "MEGATRON_ARGS")
    assert flag(args, "--pipeline-model-parallel-size") == str(top["plan"]["pp"])


def test_report_emit_writes_the_same_bundle(cli, tmp_path) -> None:
    out = tmp_path / "b"
    r = cli(
        "report", "--params", "1.3B", "--budget", "5000", "--format", "json",
        "--out", str(tmp_path / "r.json"), "--emit", str(out),
    )  # fmt: skip
    assert r.code == 0, r.err
    top = json.loads(cli("recommend", "--params", "1.3B", "--budget", "5000", "--json").out)
    task = yaml.safe_load((out / "task.yaml").read_text())
    assert task["num_nodes"] == top["options"][0]["nodes"]


def _left(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_emit_into_a_file_or_a_full_folder_is_refused(cli, tmp_path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    r = cli("recommend", "--params", "7B", "--budget", "50k", "--emit", str(f))
    assert_user_error(r, 2, "is a file")
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep")
    assert_user_error(cli("emit", "--out", str(full), *PLAN), 2, "not empty")
    assert _left(full) == ["mine.txt"] and f.read_text() == "x"
    assert_user_error(cli("emit", "--out", str(tmp_path / "no" / "b"), *PLAN), 2, "not exist")
    assert _left(tmp_path) == ["file", "full"]


def test_emit_into_an_unwritable_folder_leaves_nothing(cli, tmp_path) -> None:
    if os.geteuid() == 0:  # root writes anywhere; /proc refuses new entries even to root
        target = Path("/proc/advisor-launch-test")
        if not Path("/proc").is_dir():
            pytest.skip("no /proc and running as root")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "b"
    r = cli("emit", "--out", str(target), *PLAN)
    assert_user_error(r, 1, "cannot write")
    assert not target.exists()
    if target.parent != Path("/proc"):
        assert _left(target.parent) == []


def test_a_failed_write_leaves_no_partial_bundle(tmp_path) -> None:
    from advisor.errors import AdvisorError
    from advisor.launch import write_bundle

    target = tmp_path / "b"
    with pytest.raises(AdvisorError):
        write_bundle(target, {"a.txt": "x", "missing/b.txt": "y"})
    assert _left(tmp_path) == []
    write_bundle(target, {"a.txt": "x"})
    assert _left(target) == ["a.txt"]


def test_a_malformed_launch_data_file_names_path_and_field(tmp_path, monkeypatch) -> None:
    from advisor.errors import DataError
    from advisor.launch import data

    bad = tmp_path / "launch.yaml"
    good = yaml.safe_load(data.data_file("launch.yaml").read_text(encoding="utf-8"))
    del good["skypilot"]["rdzv_port"]["source"]
    bad.write_text(yaml.safe_dump(good))
    monkeypatch.setattr(data, "data_file", lambda name: tmp_path / name)
    data.launch_facts.cache_clear()
    try:
        with pytest.raises(DataError, match=r"launch\.yaml: skypilot\.rdzv_port\.source"):
            data.launch_facts()
    finally:
        data.launch_facts.cache_clear()


def test_every_shipped_launch_figure_has_a_source_and_date() -> None:
    from advisor.launch.data import launch_facts

    facts = launch_facts()
    for fact in [*facts.skypilot.clouds.values(), *facts.skypilot.accelerators.values()]:
        assert fact.source and fact.as_of
        if fact.source == "assumption":
            assert fact.note


def test_emit_refuses_a_plan_that_does_not_fit(cli, tmp_path) -> None:
    out = tmp_path / "b"
    r = cli("emit", "--out", str(out), "--model", "llama-3-70b", "--accelerator", "h100",
            "--count", "8", "--tp", "1", "--pp", "1", "--zero", "0")  # fmt: skip
    assert_user_error(r, 1, "does not fit")
    assert not out.exists()


def test_a_stack_whose_format_cannot_carry_the_plan_gets_one_that_can(cli, tmp_path) -> None:
    out = tmp_path / "b"
    emit(cli, out, "--model", "llama-3-8b", "--accelerator", "h100", "--count", "16",
         "--tp", "2", "--pp", "1", "--zero", "1", "--stack", "deepspeed")  # fmt: skip
    names = {p.name for p in out.iterdir()}
    assert "ds_config.json" not in names and "megatron_args.sh" in names
    text = (out / "README.md").read_text()
    assert "deepspeed: its config has no tensor/pipeline" in text
    assert "megatron files are written instead" in text


def test_spot_pricing_and_on_premises_nodes(cli, tmp_path) -> None:
    out = tmp_path / "spot"
    emit(cli, out, *PLAN, "--pricing", "spot")
    assert yaml.safe_load((out / "task.yaml").read_text())["resources"]["use_spot"] is True
    out = tmp_path / "onprem"
    emit(cli, out, "--model", "llama-3-8b", "--offering", "onprem-dgx-h100", "--nodes", "2")
    res = yaml.safe_load((out / "task.yaml").read_text())["resources"]
    assert "infra" not in res and "instance_type" not in res
    assert res["accelerators"] == "H100:8"
    assert "set resources.infra" in (out / "README.md").read_text()
