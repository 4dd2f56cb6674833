"""The hardware catalog: one facade over the versioned YAML files in hardware_catalog/.

cat = load_catalog()                   # shipped files + ADVISOR_CATALOG
cat = load_catalog([Path("mine.yaml")])  # plus --catalog files
acc = cat.accelerator("H100")          # aliases, case-insensitive
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from advisor.catalog.loader import (
    merge_raw,
    read_yaml,
    shipped_files,
    user_files,
    validate_model,
)
from advisor.catalog.schema import (
    KINDS,
    Accelerator,
    Cpu,
    DeviceProfile,
    Figure,
    Network,
    Offering,
    RentalTerms,
    Source,
    Stack,
    Storage,
)
from advisor.catalog.suggest import nearest_id
from advisor.errors import DataError, unknown

DEFAULT_TERMS = "default"  # terms for cloud offerings that name none

_MODELS: dict[str, Any] = {
    "accelerators": Accelerator,
    "cpus": Cpu,
    "networks": Network,
    "storage": Storage,
    "offerings": Offering,
    "profiles": DeviceProfile,
    "sources": Source,
    "terms": RentalTerms,
    "stacks": Stack,
}
_SINGULAR = {
    "accelerators": "accelerator",
    "cpus": "cpu",
    "networks": "network",
    "storage": "storage",
    "offerings": "offering",
    "profiles": "profile",
    "sources": "source",
    "terms": "terms",
    "stacks": "stack",
}


@dataclass(frozen=True)
class Catalog:
    """Validated catalog entries by kind and id, plus an alias index."""

    accelerators: dict[str, Accelerator]
    cpus: dict[str, Cpu]
    networks: dict[str, Network]
    storage: dict[str, Storage]
    offerings: dict[str, Offering]
    profiles: dict[str, DeviceProfile]
    sources: dict[str, Source]
    terms: dict[str, RentalTerms] = field(default_factory=dict)
    stacks: dict[str, Stack] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    _aliases: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def table(self, kind: str) -> dict[str, Any]:
        return getattr(self, kind)  # type: ignore[no-any-return]

    def lookup(self, kind: str, name: str) -> Any:
        """Entry by id or alias (case-insensitive); unknown names suggest the nearest id."""
        table = self.table(kind)
        if name in table:
            return table[name]
        key = self._aliases.get(kind, {}).get(_norm(name))
        if key is not None:
            return table[key]
        hint = (
            nearest_id(name, table, self._aliases.get(kind, {})) if kind == "accelerators" else None
        )
        raise unknown(_SINGULAR[kind], name, sorted(table) + sorted(_alias_names(table)), hint)

    def accelerator(self, name: str) -> Accelerator:
        acc: Accelerator = self.lookup("accelerators", name)
        if acc.id == "cpu":
            from advisor.catalog.local_cpu import local_accelerator

            return local_accelerator(acc)
        return acc

    def stack(self, name: str) -> Stack:
        return self.lookup("stacks", name)  # type: ignore[no-any-return]

    def offering(self, name: str) -> Offering:
        return self.lookup("offerings", name)  # type: ignore[no-any-return]

    def network(self, name: str) -> Network:
        return self.lookup("networks", name)  # type: ignore[no-any-return]

    def cpu(self, name: str) -> Cpu:
        c: Cpu = self.lookup("cpus", name)
        if c.local:
            from advisor.catalog.local_cpu import local_cpu

            return local_cpu(c)
        return c

    def profile_for(self, accelerator_id: str) -> DeviceProfile | None:
        """The shipped profile for an accelerator: one fitted on measured training runs
        (id ending '-fit') before one from microbenchmarks, None when neither exists."""
        mine = [p for p in self.profiles.values() if p.accelerator == accelerator_id]
        mine.sort(key=lambda p: not p.id.endswith("-fit"))
        return mine[0] if mine else None

    def terms_for(self, offering: Offering) -> RentalTerms | None:
        """The rental terms an offering is sold under: its own, else the catalog's
        'default' (an assumption, see terms.yaml); None for hardware one buys."""
        if offering.kind == "onprem":
            return None
        return self.terms.get(offering.terms or DEFAULT_TERMS)

    def source_of(self, fig: Figure) -> str:
        """A figure's source as a full address when it is a known key."""
        src = self.sources.get(fig.source)
        return f"{src.title} — {src.address}" if src else fig.source

    def find(self, name: str) -> tuple[str, Any]:
        """Any entry by id or alias, searching every kind."""
        for kind in KINDS:
            table = self.table(kind)
            if name in table:
                return kind, table[name]
        for kind in KINDS:
            key = self._aliases.get(kind, {}).get(_norm(name))
            if key is not None:
                return kind, self.table(kind)[key]
        everything = [k for kind in KINDS for k in self.table(kind)]
        raise unknown("entry", name, everything)


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(" ", "-")


def _alias_names(table: dict[str, Any]) -> list[str]:
    return [a for e in table.values() for a in getattr(e, "aliases", [])]


def _build_aliases(
    tables: dict[str, dict[str, Any]], origin: dict[tuple[str, str], Path]
) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for kind, table in tables.items():
        index: dict[str, str] = {_norm(k): k for k in table}
        for key, entry in table.items():
            for alias in getattr(entry, "aliases", []):
                a = _norm(alias)
                if a in index and index[a] != key:
                    raise DataError(
                        f"{origin.get((kind, key), '?')}: {kind} (id {key}).aliases: "
                        f"'{alias}' already names '{index[a]}'"
                    )
                index[a] = key
        out[kind] = index
    return out


def _check_references(
    tables: dict[str, dict[str, Any]], origin: dict[tuple[str, str], Path], strict_sources: bool
) -> None:
    """Cross-file links: ids that entries point at must exist."""

    def fail(kind: str, key: str, fld: str, msg: str) -> DataError:
        return DataError(f"{origin.get((kind, key), '?')}: {kind} (id {key}).{fld}: {msg}")

    accs, nets, cpus = tables["accelerators"], tables["networks"], tables["cpus"]
    for key, a in accs.items():
        if a.intra_node_link and a.intra_node_link not in nets:
            raise fail(
                "accelerators", key, "intra_node_link", f"unknown network '{a.intra_node_link}'"
            )
    for key, o in tables["offerings"].items():
        if o.accelerator not in accs:
            raise fail("offerings", key, "accelerator", f"unknown accelerator '{o.accelerator}'")
        if o.node_network and o.node_network not in nets:
            raise fail("offerings", key, "node_network", f"unknown network '{o.node_network}'")
        if o.host_cpu and o.host_cpu not in cpus:
            raise fail("offerings", key, "host_cpu", f"unknown cpu '{o.host_cpu}'")
        if o.terms and o.terms not in tables["terms"]:
            raise fail("offerings", key, "terms", f"unknown terms '{o.terms}'")
        if o.storage and o.storage not in tables["storage"]:
            raise fail("offerings", key, "storage", f"unknown storage '{o.storage}'")
    for key, p in tables["profiles"].items():
        if p.accelerator not in accs:
            raise fail("profiles", key, "accelerator", f"unknown accelerator '{p.accelerator}'")
    if strict_sources:
        known = tables["sources"]
        for kind in KINDS:
            for key, entry in tables[kind].items():
                for path, fig in iter_figures(entry):
                    if fig.source not in known:
                        raise fail(
                            kind, key, f"{path}.source", f"unknown source key '{fig.source}'"
                        )


def iter_figures(obj: Any, prefix: str = "") -> list[tuple[str, Figure]]:
    """Every Figure inside a catalog entry, with its dotted field path."""
    out: list[tuple[str, Figure]] = []
    if isinstance(obj, Figure):
        return [(prefix, obj)]
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            out += iter_figures(getattr(obj, name), f"{prefix}.{name}" if prefix else name)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += iter_figures(v, f"{prefix}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            out += iter_figures(v, f"{prefix}[{i}]")
    return out


def build_catalog(shipped: list[Path], extra: list[Path]) -> Catalog:
    """Merge and validate files: shipped ones may not repeat ids; extra ones override."""
    raw: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
    origin: dict[tuple[str, str], Path] = {}
    last: dict[tuple[str, str], Path] = {}
    for path, override in [(p, False) for p in shipped] + [(p, True) for p in extra]:
        data = read_yaml(path)
        merge_raw(raw, origin, path, data, override=override)
        for kind in KINDS:
            key_field = "key" if kind == "sources" else "id"
            for entry in data.get(kind) or []:
                last[(kind, str(entry[key_field]))] = path
    tables: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        tables[kind] = {}
        for key, entry in raw[kind].items():
            path = last[(kind, key)]
            model = validate_model(path, _MODELS[kind], entry, f"{kind} (id {key})")
            tables[kind][key] = model
    _check_references(tables, last, strict_sources=not extra)
    return Catalog(
        **tables,
        files=tuple(shipped + extra),
        _aliases=_build_aliases(tables, last),
    )


@functools.lru_cache(maxsize=8)
def _cached(extra: tuple[Path, ...]) -> Catalog:
    return build_catalog(shipped_files(), list(extra))


def load_catalog(paths: list[Path] | None = None) -> Catalog:
    """The shipped catalog plus ADVISOR_CATALOG and `paths` overrides."""
    return _cached(tuple(user_files(paths)))


__all__ = ["Catalog", "build_catalog", "iter_figures", "load_catalog"]
