"""Shell and YAML text helpers shared by the emitters."""

from __future__ import annotations

import shlex
from typing import Any

import yaml


def shell_array(name: str, args: list[str]) -> str:
    """`NAME=( ... )` with one flag and its values per line, quoted for bash."""
    lines = []
    i = 0
    while i < len(args):
        j = i + 1
        while j < len(args) and not args[j].startswith("--"):
            j += 1
        lines.append("  " + " ".join(shlex.quote(x) for x in args[i:j]))
        i = j
    return f"{name}=(\n" + "\n".join(lines) + "\n)\n"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    # multi-line scripts (setup, run) as literal blocks, the way SkyPilot's docs write them
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
