"""The schema and loader of advisor/data/goodput_defaults.yaml: every default of the
whole-run model with its source (or `source: assumption` and why), validated on load
so a malformed entry is reported with the file and the field."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from advisor.catalog.schema import Figure
from advisor.errors import DataError, first_field_error

DEFAULTS_FILE = Path(__file__).resolve().parent / "data" / "goodput_defaults.yaml"


class GoodputDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    failures_per_node_day: Figure
    planned_per_day: Figure
    planned_reference_devices: Figure
    planned_min_devices: Figure
    checkpoint_bytes_per_param: Figure
    write_bytes_per_s_per_node: Figure
    async_stage_s: Figure
    async_stage_s_large: Figure
    async_large_devices: Figure
    restart_s: Figure
    requeue_s: Figure
    eval_fraction: Figure
    straggler_factor: Figure
    spare_fraction: Figure
    spot_interruptions_per_hour: Figure
    spot_notice_s: dict[str, Figure]
    spot_reacquire_s: Figure
    filesystem_checkpoints: Figure
    flag_loss_fraction: Figure

    def notice_s(self, provider: str | None) -> Figure:
        """The spot notice a provider gives (default: the shortest published)."""
        return self.spot_notice_s.get((provider or "").lower(), self.spot_notice_s["default"])

    def figures(self) -> dict[str, Figure]:
        """Every default by name (spot notices as spot_notice_s.<provider>)."""
        out: dict[str, Figure] = {}
        for name in type(self).model_fields:
            v = getattr(self, name)
            if isinstance(v, Figure):
                out[name] = v
            elif isinstance(v, dict):
                out.update({f"{name}.{k}": f for k, f in v.items()})
        return out


def validate_defaults(raw: Any, path: Path = DEFAULTS_FILE) -> GoodputDefaults:
    """The parsed file, or a DataError naming the file and the first bad field."""
    try:
        data = GoodputDefaults.model_validate(raw)
    except ValidationError as e:
        raise DataError(first_field_error(path, e)) from None
    if "default" not in data.spot_notice_s:
        raise DataError(f"{path}: spot_notice_s: needs a 'default' entry")
    for name, fig in data.figures().items():
        if fig.source == "assumption" and not fig.note:
            raise DataError(f"{path}: {name}: an assumption needs a 'note' saying why")
    return data


@functools.lru_cache(maxsize=1)
def goodput_defaults() -> GoodputDefaults:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: faster
    raw = yaml.load(DEFAULTS_FILE.read_text(encoding="utf-8"), Loader=loader)
    return validate_defaults(raw)
