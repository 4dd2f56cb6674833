"""Each emitted file read by the real tool's own parser or schema, where the tool
installs offline from PyPI (`pip install -e '.[launch-check]'`); skipped with the
reason otherwise.

- SkyPilot: the task and resources schemas (sky.utils.schemas.get_task_schema and
  get_resources_schema, the validation sky.Task.from_yaml and Resources.from_yaml_config
  start with; from_yaml itself then downloads the cloud catalogs, so it cannot run offline).
- DeepSpeed: deepspeed.runtime.config.DeepSpeedConfig, with the plan's data-parallel size.
- accelerate: ClusterConfig.from_yaml_file (what `accelerate launch --config_file` reads).
- torchtitan 0.3.0: the recipe's ParallelismConfig/TrainingConfig/checkpoint Config
  built from the real dataclasses (importing the llama3 registry needs triton, a
  GPU-only 290 MB wheel, so the registry is stood in for); the v0.2.2 TOML's
  [training] and [parallelism] keys against the same dataclasses (unchanged names).
- transformers: HfArgumentParser(TrainingArguments) over trainer_args.sh.
- Megatron-LM: megatron-core on PyPI ships no megatron/training/arguments.py, so the
  argument parser cannot run; each flag is checked against the megatron.core config
  dataclasses it is generated from, the rest against the list below.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from tests.test_launch import PLAN, bash_array, emit, flag

MISSING = "{} not installed (pip install -e '.[launch-check]')"
DS_BASE = ("--model", "llama-3-8b", "--accelerator", "h100", "--count", "16", "--tp", "1")
DS_BASE += ("--pp", "1", "--zero", "3", "--recompute", "full")
TITAN = ("--model", "llama-3-70b", "--accelerator", "h100", "--count", "64", "--tp", "8")
TITAN += ("--pp", "2", "--vpp", "2", "--zero", "3", "--stack", "torchtitan")


def test_skypilot_schema_accepts_task_and_managed_job(cli, tmp_path) -> None:
    schemas = pytest.importorskip("sky.utils.schemas", reason=MISSING.format("skypilot"))
    from sky.utils import common_utils

    out = tmp_path / "out"
    r = cli("recommend", "--params", "7B", "--budget", "50k", "--emit", str(out))
    assert r.code == 0, r.err
    emit(cli, tmp_path / "p5", *PLAN)
    for path in [out / "task.yaml", out / "managed-job.yaml", tmp_path / "p5" / "task.yaml",
                 tmp_path / "p5" / "managed-job.yaml"]:  # fmt: skip
        cfg = yaml.safe_load(path.read_text())
        common_utils.validate_schema(cfg, schemas.get_task_schema(), f"{path}: ")
        # resources are checked again by their own schema (Resources.from_yaml_config)
        res = schemas.get_resources_schema()
        common_utils.validate_schema(cfg["resources"], res, f"{path}: ")
    # and it rejects what it should: the check can fail
    bad = yaml.safe_load((out / "task.yaml").read_text())
    bad["resources"]["use_spots"] = True
    with pytest.raises(ValueError):
        common_utils.validate_schema(bad["resources"], schemas.get_resources_schema(), "bad: ")


def test_deepspeed_config_class_accepts_ds_config(cli, tmp_path, monkeypatch) -> None:
    ds_config = pytest.importorskip("deepspeed.runtime.config", reason=MISSING.format("deepspeed"))
    est = emit(cli, tmp_path / "ds", *DS_BASE, "--stack", "deepspeed")
    dp = est["plan"]["dp"]
    # DeepSpeedConfig reads the data-parallel size from torch.distributed; give it the plan's.
    monkeypatch.setattr(ds_config.dist, "get_rank", lambda: 0)
    mpu = types.SimpleNamespace(get_data_parallel_world_size=lambda: dp)
    cfg = json.loads((tmp_path / "ds" / "ds_config.json").read_text())
    c = ds_config.DeepSpeedConfig(cfg, mpu=mpu)
    assert c.train_batch_size == cfg["train_batch_size"]
    assert c.zero_optimization_stage == 3 and c.bfloat16_config.enabled
    with pytest.raises(AssertionError):  # a batch that does not add up is refused
        ds_config.DeepSpeedConfig(cfg | {"train_batch_size": cfg["train_batch_size"] + 1}, mpu=mpu)


def test_accelerate_reads_the_fsdp_config(cli, tmp_path) -> None:
    config_args = pytest.importorskip(
        "accelerate.commands.config.config_args", reason=MISSING.format("accelerate")
    )
    emit(cli, tmp_path / "f", *DS_BASE, "--stack", "fsdp")
    c = config_args.ClusterConfig.from_yaml_file(str(tmp_path / "f" / "accelerate_fsdp.yaml"))
    assert str(c.distributed_type).endswith("FSDP") and c.num_processes == 16
    assert c.fsdp_config["fsdp_version"] == 2


def _titan_stubs(monkeypatch, base, builder: str) -> None:  # type: ignore[no-untyped-def]
    """Stand-ins for the modules whose import needs triton: the llama3 registry (a base
    config with a real checkpoint Config) and the float8 converter."""
    registry = types.ModuleType("torchtitan.models.llama3.config_registry")
    setattr(
        registry,
        builder,
        lambda: types.SimpleNamespace(checkpoint=base.BaseCheckpointManager.Config()),
    )
    llama3 = types.ModuleType("torchtitan.models.llama3")
    llama3.model_registry = lambda flavor, converters=None: ("spec", flavor, converters)  # type: ignore[attr-defined]
    quant = types.ModuleType("torchtitan.components.quantization")
    quant.Float8LinearConverter = types.SimpleNamespace(Config=dict)  # type: ignore[attr-defined]
    for m in (types.ModuleType("torchtitan.models"), llama3, registry, quant):
        monkeypatch.setitem(sys.modules, m.__name__, m)


@pytest.mark.parametrize("precision", ["bf16", "fp8"])
def test_torchtitan_dataclasses_accept_the_recipe_and_toml(
    cli, tmp_path, monkeypatch, precision
) -> None:
    import tomllib

    tt = pytest.importorskip("torchtitan.config", reason=MISSING.format("torchtitan"))
    base = pytest.importorskip("torchtitan.components.checkpointer.base")
    ac = pytest.importorskip("torchtitan.distributed.activation_checkpoint")
    est = emit(cli, tmp_path / "t", *TITAN, "--precision", precision)
    recipe = tmp_path / "t" / "torchtitan_recipe.py"
    # the recipe's base builder exists in the installed registry (read as text: importing
    # torchtitan.models needs triton, a GPU-only 290 MB wheel)
    import torchtitan

    registry = Path(torchtitan.__file__).parent / "models" / "llama3" / "config_registry.py"
    builder = next(
        ln.split()[-1] for ln in recipe.read_text().splitlines() if "config_registry import" in ln
    )
    assert f"def {builder}() -> Trainer.Config" in registry.read_text()
    _titan_stubs(monkeypatch, base, builder)
    ns: dict = {}
    exec(compile(recipe.read_text(), str(recipe), "exec"), ns)
    cfg = ns["advisor_plan"]()
    assert isinstance(cfg.parallelism, tt.ParallelismConfig)
    assert isinstance(cfg.training, tt.TrainingConfig)
    assert cfg.parallelism.tensor_parallel_degree == est["plan"]["tp"]
    assert cfg.parallelism.pipeline_parallel_schedule == "Interleaved1F1B"
    assert cfg.training.global_batch_size > 0 and cfg.checkpoint.enable
    assert cfg.activation_checkpoint is None or isinstance(
        cfg.activation_checkpoint, ac.FullAC.Config | ac.SelectiveAC.Config
    )
    converters = cfg.model_spec[2]
    assert (converters is not None) == (precision == "fp8")
    if precision == "fp8":
        assert isinstance(cfg.compile, tt.CompileConfig) and cfg.compile.enable
    toml = tomllib.loads((tmp_path / "t" / "torchtitan.toml").read_text())
    tt.ParallelismConfig(**toml["parallelism"])
    tt.TrainingConfig(**toml["training"])
    assert toml["activation_checkpoint"]["mode"] in ("none", "selective", "full")
    assert ("converters" in toml["model"]) == (precision == "fp8")


# Flags of megatron/training/arguments.py (not generated from a megatron.core dataclass),
# NVIDIA/Megatron-LM @ d98e8a64 (launch-formats.md 4): not checkable from megatron-core.
TRAINING_ONLY = {
    "seq_length", "max_position_embeddings", "group_query_attention", "swiglu",
    "position_embedding_type", "untie_embeddings_and_output_weights", "disable_bias_linear",
    "add_qkv_bias", "micro_batch_size", "global_batch_size", "train_iters", "save_interval",
    "save", "load", "use_distributed_optimizer", "use_megatron_fsdp",
    "data_parallel_sharding_strategy", "num_virtual_stages_per_pipeline_rank",
    "decoder_first_pipeline_num_layers", "decoder_last_pipeline_num_layers",
    "recompute_activations", "fp8_format", "num_experts",
}  # fmt: skip
# arguments.py renames (launch-formats.md 4): --fp8-format -> fp8, --num-experts -> num_moe_experts
RENAMED = {"fp8_format": "fp8", "num_experts": "num_moe_experts"}


def test_megatron_flags_are_megatron_core_fields(cli, tmp_path) -> None:
    tc = pytest.importorskip(
        "megatron.core.transformer.transformer_config", reason=MISSING.format("megatron-core")
    )
    fields = {f.name for f in dataclasses.fields(tc.TransformerConfig)}
    seen: set[str] = set()
    for i, layout in enumerate(
        [
            ("--tp", "8", "--pp", "3", "--vpp", "2", "--zero", "1", "--precision", "fp8",
             "--recompute", "selective"),
            ("--tp", "4", "--pp", "4", "--cp", "2", "--zero", "3", "--recompute", "full"),
        ]
    ):  # fmt: skip
        out = tmp_path / str(i)
        emit(cli, out, "--model", "llama-3-70b", "--accelerator", "h100", "--count", "96", *layout)
        args = bash_array(out / "megatron_args.sh", "MEGATRON_ARGS")
        for a in args:
            if a.startswith("--"):
                seen.add(a[2:].replace("-", "_"))
    unknown = {n for n in seen if n not in fields and n not in TRAINING_ONLY}
    assert not unknown, unknown
    in_core = seen & fields
    for must in ("tensor_model_parallel_size", "pipeline_model_parallel_size",
                 "context_parallel_size", "sequence_parallel", "recompute_granularity",
                 "recompute_method", "recompute_num_layers", "bf16"):  # fmt: skip
        assert must in in_core, must
    for field in RENAMED.values():
        assert field in fields, field


def test_hf_trainer_parses_the_trainer_arguments(cli, tmp_path, monkeypatch) -> None:
    """transformers' own HfArgumentParser over TrainingArguments (its __post_init__ checks
    fsdp, fsdp_config and deepspeed); --use_cpu only because this test has no GPU for bf16."""
    hf = pytest.importorskip("transformers", reason=MISSING.format("transformers"))
    for stack in ("deepspeed", "fsdp"):
        out = tmp_path / stack
        est = emit(cli, out, *DS_BASE, "--stack", stack)
        monkeypatch.chdir(out)  # the files name each other relative to the bundle
        args = bash_array(out / "trainer_args.sh", "TRAINER_ARGS")
        parser = hf.HfArgumentParser(hf.TrainingArguments)
        (ta,) = parser.parse_args_into_dataclasses(args=[*args, "--use_cpu"])
        p = est["plan"]
        assert ta.per_device_train_batch_size == p["micro_batch"]
        assert ta.gradient_accumulation_steps == p["grad_accum"] and ta.bf16
        if stack == "deepspeed":
            assert ta.deepspeed == "ds_config.json" and ta.gradient_checkpointing
        else:
            assert ta.fsdp_config["activation_checkpointing"] is True
            assert not ta.gradient_checkpointing
        with pytest.raises(ValueError):  # an argument it does not know is refused
            parser.parse_args_into_dataclasses(args=[*args, "--use_cpu", "--no_such_arg", "1"])


def test_megatron_argument_parser_accepts_the_args(cli, tmp_path, monkeypatch) -> None:
    """Megatron-LM's own parser, where a Megatron-LM checkout is importable."""
    arguments = pytest.importorskip(
        "megatron.training.arguments",
        reason="megatron-core on PyPI ships no megatron/training/arguments.py (Megatron-LM's "
        "parser); put a Megatron-LM checkout on PYTHONPATH to run this check",
    )
    out = tmp_path / "m"
    emit(cli, out, *PLAN)
    args = bash_array(out / "megatron_args.sh", "MEGATRON_ARGS")
    monkeypatch.setattr(sys, "argv", ["pretrain_gpt.py", *args])
    parsed = arguments.parse_args()
    assert parsed.tensor_model_parallel_size == int(flag(args, "--tensor-model-parallel-size"))
