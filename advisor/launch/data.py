"""The launch bundles' own facts (advisor/data/launch.yaml), validated.

Read through `data_file()` only, so that packaging can move the data folder in one
place (it is read with importlib.resources, as every file inside `advisor` is).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from advisor.errors import DataError, first_field_error

DATA_FILE = "launch.yaml"


class Fact(BaseModel):
    """One figure with where it comes from."""

    model_config = ConfigDict(extra="forbid")

    value: Any
    source: str
    as_of: str | Any
    note: str | None = None


class CloudFact(Fact):
    instance_types: bool = False


class Disk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_gb: Fact
    checkpoint_bytes_per_param: Fact
    checkpoints_kept: Fact


class Recovery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Fact
    max_restarts_on_errors: Fact


class SkyPilotFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clouds: dict[str, CloudFact]
    accelerators: dict[str, Fact]
    rdzv_port: Fact
    job_recovery: Recovery
    disk: Disk


class TrainingFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_interval_steps: Fact
    check_steps: Fact
    warmup_steps_skipped: Fact


class LaunchFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    skypilot: SkyPilotFacts
    training: TrainingFacts


def data_file(name: str) -> Any:
    """A file of advisor/data as an importlib.resources Traversable (the one place to
    change when the data folder moves)."""
    return resources.files("advisor") / "data" / name


@functools.lru_cache(maxsize=1)
def launch_facts() -> LaunchFacts:
    path = data_file(DATA_FILE)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return LaunchFacts.model_validate(raw)
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: {e}") from e
    except ValidationError as e:
        raise DataError(first_field_error(path, e)) from e
