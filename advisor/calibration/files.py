"""Read benchmark results and device profiles; write a profile atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from advisor.benchmarks.results import BenchFile, atomic_write_text
from advisor.catalog.loader import describe_validation_error, read_profile, read_yaml
from advisor.catalog.schema import DeviceProfile
from advisor.errors import DataError

# --- reading and writing --------------------------------------------------------------------


def read_results(path: Path) -> BenchFile:
    """A results file of `advisor bench`; errors name the file and field."""
    raw = _read_mapping(path, "results")
    try:
        return BenchFile.model_validate(raw)
    except ValidationError as e:
        raise DataError(describe_validation_error(path, e, raw)) from e


def load_profile(path: Path) -> DeviceProfile:
    """A device profile from JSON or YAML; the catalog loader's one implementation."""
    return read_profile(path)  # type: ignore[no-any-return]


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: {what} file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a {what} file")
    return read_yaml(path)  # JSON is YAML: one safe loader for both


def dump_profile(profile: DeviceProfile, path: Path) -> str:
    """The profile as JSON (a .json path) or YAML (anything else)."""
    data = profile.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data = {"id": profile.id, "accelerator": profile.accelerator, **data}
    if Path(path).suffix == ".json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_profile(profile: DeviceProfile, path: Path) -> None:
    atomic_write_text(Path(path), dump_profile(profile, path))
