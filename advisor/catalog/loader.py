"""Read catalog YAML files safely, validate them, and merge user overrides.

The shipped catalog is every `*.yaml` under `hardware_catalog/`. User files
(`--catalog PATH`, repeatable, or `ADVISOR_CATALOG` with `os.pathsep`-separated
paths) come after it: an entry whose id already exists is merged field by field
over the existing one (so a file holding only `id` and
`on_demand_usd_per_hour` sets a negotiated price); a new id adds an entry.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from advisor.catalog.schema import KINDS, CatalogFile
from advisor.errors import DataError

ENV_VAR = "ADVISOR_CATALOG"


def shipped_catalog_dir() -> Path:
    """The shipped catalog: inside the installed package, else `hardware_catalog/` of the
    source tree (advisor/resources.py)."""
    from advisor.resources import shipped_dir

    return shipped_dir("catalog")


def shipped_files() -> list[Path]:
    return sorted(shipped_catalog_dir().rglob("*.yaml"))


def user_files(paths: list[Path] | None = None) -> list[Path]:
    """Files named by ADVISOR_CATALOG, then by --catalog; a folder means its *.yaml files."""
    named: list[Path] = []
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        named += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    named += list(paths or [])
    out: list[Path] = []
    for p in named:
        if p.is_dir():
            out += sorted(p.rglob("*.yaml"))
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: catalog file not found")
    return out


# libyaml's parser is ~10x faster than the pure-Python one; both are safe loaders.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeBase):  # type: ignore[misc, valid-type]
    """A safe loader that rejects duplicate mapping keys instead of keeping the last."""


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (line {line})", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse one file with a safe loader; any failure names the file (and line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if isinstance(e, yaml.constructor.ConstructorError) and "tag" in problem:
            # Safe loading: python/object tags and the like are refused, never run.
            raise DataError(f"{path}{where}: YAML tag not allowed: {problem}") from e
        raise DataError(f"{path}{where}: YAML syntax error: {problem}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of kinds ({', '.join(KINDS)}) at top level")
    return data


def describe_validation_error(
    path: Path, err: ValidationError, raw: Any = None, prefix: str = ""
) -> str:
    """First error of a pydantic validation, as 'path: kind[i] (id X).field: message'."""
    first = err.errors()[0]
    loc = list(first["loc"])
    parts: list[str] = []
    node = raw
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if i <= 1 and isinstance(node, dict) and "id" in node:
                    parts[-1] += f" (id {node['id']})"
            else:
                node = None
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    field = ".".join([prefix, *parts] if prefix else parts) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    more = len(err.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {field}: {msg}{tail}"


def validate_model(path: Path, model: type[BaseModel], raw: Any, prefix: str = "") -> Any:
    """Validate raw data as `model`; errors name the file and field."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise DataError(describe_validation_error(path, e, raw, prefix)) from e


def _index_of_duplicates(path: Path, raw: dict[str, Any]) -> None:
    for kind in KINDS:
        seen: set[str] = set()
        for i, entry in enumerate(raw.get(kind) or []):
            key = (
                entry.get("key" if kind == "sources" else "id") if isinstance(entry, dict) else None
            )
            if key is None:
                continue
            if key in seen:
                raise DataError(f"{path}: {kind}[{i}].id: duplicate id '{key}' in the same file")
            seen.add(key)


def merge_raw(
    base: dict[str, dict[str, dict[str, Any]]],
    origin: dict[tuple[str, str], Path],
    path: Path,
    raw: dict[str, Any],
    *,
    override: bool,
) -> None:
    """Fold one file's entries into `base` (kind -> id -> entry dict).

    Shipped files may not repeat an id (that is a data error naming both files);
    user files override field by field.
    """
    unknown = set(raw) - set(KINDS) - {"schema_version"}
    if unknown:
        name = sorted(unknown)[0]
        raise DataError(f"{path}: {name}: unknown field (kinds are {', '.join(KINDS)})")
    _index_of_duplicates(path, raw)
    for kind in KINDS:
        entries = raw.get(kind) or []
        if not isinstance(entries, list):
            raise DataError(f"{path}: {kind}: expected a list of entries")
        key_field = "key" if kind == "sources" else "id"
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or key_field not in entry:
                raise DataError(f"{path}: {kind}[{i}].{key_field}: Field required")
            key = str(entry[key_field])
            table = base.setdefault(kind, {})
            if key in table:
                if not override:
                    first = origin[(kind, key)]
                    raise DataError(
                        f"{path}: {kind}[{i}].{key_field}: duplicate id '{key}' (also in {first})"
                    )
                table[key] = {**table[key], **entry}
            else:
                table[key] = dict(entry)
                origin[(kind, key)] = path


def validate_file(path: Path) -> CatalogFile:
    """Validate one complete file on its own (shipped files are complete)."""
    raw = read_yaml(path)
    return validate_model(path, CatalogFile, raw)


def read_profile(path: Path) -> Any:
    """A device profile file (YAML or JSON, as `advisor calibrate` writes), validated."""
    from advisor.catalog.schema import DeviceProfile

    if not path.exists():
        raise DataError(f"{path}: profile file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a profile file")
    raw = read_yaml(path)  # JSON is YAML; the same safe loader reads both
    if "profiles" in raw and isinstance(raw["profiles"], list) and len(raw["profiles"]) == 1:
        raw = raw["profiles"][0]
    return validate_model(path, DeviceProfile, raw)
