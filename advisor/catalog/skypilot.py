"""Turn a SkyPilot catalog CSV (skypilot-org/skypilot-catalog `catalogs/v8|v9/<cloud>/vms.csv`)
into a catalog override file of offerings with fresh prices.

Rules (shared/reference/launch-formats.md §1.4, from the v8 AWS and Lambda files):
columns are read by header name (their order differs between clouds; `GpuInfo` and
`GPUInfo` both occur); `GpuInfo` is a Python literal dict (single quotes), read with
`ast.literal_eval`, never `eval`; AWS has one row per availability zone, collapsed to
the region's minimum (the spread is noted); an empty `SpotPrice` means no spot offering;
`AcceleratorCount` is a float; an empty `AcceleratorName` is a CPU-only VM (skipped);
rows with no `InstanceType` are GCP's separate accelerator prices, which this importer
does not join to their hosts (skipped and counted). Prices are USD per instance-hour for
the whole VM (the catalog's README does not state the unit: a judgement, noted in the
source entry).

An accelerator name is matched to a catalog id by id or alias only, and when `GpuInfo`
gives the memory it must agree with the catalog part's (within 10%): SkyPilot's `A100`
is 40 GB on AWS p4d while the catalog's alias `A100` names the 80 GB part. Names that do
not match are reported (with the nearest id) and their rows left out, never guessed;
`--map NAME=ID` settles them.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.catalog import Catalog
from advisor.catalog.suggest import nearest_id
from advisor.errors import DataError, UsageError

REQUIRED = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")
OPTIONAL = ("SpotPrice", "vCPUs", "MemoryGiB", "AvailabilityZone")
GPU_INFO = ("GpuInfo", "GPUInfo")
MEMORY_TOLERANCE = 0.10  # GpuInfo MiB vs the catalog's GB: 16384 MiB = 17.2 GB for a "16 GB" part


@dataclass(frozen=True)
class VmRow:
    """One CSV row that names an instance with accelerators."""

    line: int
    instance_type: str
    accelerator_name: str
    accelerator_count: int
    memory_mib: float | None
    vcpus: int | None
    host_memory_gib: float | None
    region: str
    price: float | None
    spot_price: float | None


@dataclass
class Import:
    """What the importer read, kept and left out."""

    offerings: list[dict[str, Any]] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)  # name -> why (and nearest id)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows


def _number(path: Path, line: int, column: str, text: str) -> float | None:
    """A price or count cell: empty is None; anything else must be a finite number."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{line}: {column} '{text}' is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise DataError(f"{path}:{line}: {column} '{text}' is not a non-negative number")
    return value


def _gpu_memory_mib(path: Path, line: int, text: str) -> float | None:
    """Per-device memory from a GpuInfo cell: {'Gpus': [{'MemoryInfo': {'SizeInMiB': N}}]}."""
    text = text.strip()
    if not text:
        return None
    try:
        info = ast.literal_eval(text)
        size = info["Gpus"][0]["MemoryInfo"]["SizeInMiB"]
    except (ValueError, SyntaxError, KeyError, IndexError, TypeError, MemoryError):
        raise DataError(
            f"{path}:{line}: GpuInfo is not a dict with Gpus[0].MemoryInfo.SizeInMiB"
        ) from None
    if not isinstance(size, int | float) or size <= 0:
        raise DataError(f"{path}:{line}: GpuInfo SizeInMiB '{size}' is not a positive number")
    return float(size)


def read_rows(path: Path, text: str) -> tuple[list[VmRow], dict[str, int]]:
    """Rows with accelerators, and counts of the rows left out by reason."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        found = ", ".join(header) if header else "none"
        raise DataError(
            f"{path}: missing column '{missing[0]}' (columns are read by name; found: {found})"
        )
    gpu_col = next((c for c in GPU_INFO if c in header), None)
    rows: list[VmRow] = []
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for i, rec in enumerate(reader, start=2):
        if None in rec:
            raise DataError(f"{path}:{i}: more cells than columns")
        cell = {k: (v or "").strip() for k, v in rec.items()}
        price = _number(path, i, "Price", cell["Price"])
        spot = _number(path, i, "SpotPrice", cell.get("SpotPrice", ""))
        name = cell["AcceleratorName"]
        if not cell["InstanceType"]:
            skip("accelerator-only price rows (GCP keeps them apart from hosts; not joined)")
            continue
        if not name:
            skip("rows of CPU-only instances")
            continue
        count = _number(path, i, "AcceleratorCount", cell["AcceleratorCount"])
        if count is None or count < 1 or count != int(count):
            skip("rows with a fractional or missing accelerator count")
            continue
        if price is None:
            skip("rows without an on-demand Price")
            continue
        vcpus = _number(path, i, "vCPUs", cell.get("vCPUs", ""))
        rows.append(
            VmRow(
                line=i,
                instance_type=cell["InstanceType"],
                accelerator_name=name,
                accelerator_count=int(count),
                memory_mib=_gpu_memory_mib(path, i, cell[gpu_col]) if gpu_col else None,
                vcpus=int(vcpus) if vcpus and vcpus >= 1 else None,
                host_memory_gib=_number(path, i, "MemoryGiB", cell.get("MemoryGiB", "")),
                region=cell["Region"],
                price=price,
                spot_price=spot,
            )
        )
    return rows, skipped


def parse_mapping(items: list[str]) -> dict[str, str]:
    """`--map NAME=ID` pairs (SkyPilot name -> catalog accelerator id)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, acc = item.partition("=")
        if not sep or not name.strip() or not acc.strip():
            raise UsageError(f"--map '{item}': expected NAME=ID, e.g. A100=a100-sxm4-40gb")
        out[name.strip().lower()] = acc.strip()
    return out


def match_accelerator(
    cat: Catalog, name: str, memory_mib: float | None, mapping: dict[str, str]
) -> tuple[str | None, str]:
    """(catalog id, '') for a name the catalog knows by id or alias with agreeing memory;
    (None, why) otherwise. Mapped names are taken as given (the id must exist)."""
    table = cat.table("accelerators")
    if name.lower() in mapping:
        acc = mapping[name.lower()]
        try:
            return cat.accelerator(acc).id, ""
        except UsageError as e:
            raise UsageError(f"--map {name}={acc}: {e}") from None
    try:
        acc = cat.accelerator(name)
    except UsageError:
        hint = nearest_id(name, table, {})
        return None, f"not a catalog id or alias{f'; nearest: {hint}' if hint else ''}"
    why = _memory_disagrees(cat, acc.id, VmRowName(name, memory_mib))
    return (None, why) if why else (acc.id, "")


@dataclass(frozen=True)
class VmRowName:
    accelerator_name: str
    memory_mib: float | None


def _memory_disagrees(cat: Catalog, acc_id: str, row: VmRow | VmRowName) -> str:
    """Why GpuInfo's memory per device rules out the catalog part `acc_id` ('' when it agrees
    or either side is unknown)."""
    have = cat.accelerator(acc_id).memory_bytes
    if row.memory_mib is None or not have:
        return ""
    if abs(row.memory_mib * 2**20 - have) <= MEMORY_TOLERANCE * have:
        return ""
    name = row.accelerator_name
    return (
        f"GpuInfo says {row.memory_mib:.0f} MiB per device but the catalog's '{name}' is "
        f"{acc_id} ({have / 1e9:.0f} GB); say which part with --map {name}=ID"
    )


def _figure(value: float, source: str, as_of: dt.date, note: str | None = None) -> dict[str, Any]:
    fig: dict[str, Any] = {"value": round(value, 6), "source": source, "as_of": as_of}
    if note:
        fig["note"] = note
    return fig


def offering_id(cloud: str, instance_type: str) -> str:
    """(`aws`, `p4d.24xlarge`) -> `aws-p4d.24xlarge`; (`lambda`, `gpu_8x_v100`) ->
    `lambda-gpu-8x-v100`, the ids the shipped catalog uses."""
    return f"{cloud}-{instance_type.lower().replace('_', '-')}"


def existing_offering(cat: Catalog, cloud: str, instance_type: str) -> Any | None:
    """The catalog offering this instance type already is: same id, or same provider prefix
    and instance name."""
    table = cat.table("offerings")
    oid = offering_id(cloud, instance_type)
    if oid in table:
        return table[oid]
    for off in table.values():
        if off.id.startswith(f"{cloud}-") and off.name == instance_type:
            return off
    return None


def provider_name(cat: Catalog, cloud: str) -> str:
    """The provider spelling the catalog already uses for this cloud (`AWS`), else `cloud`."""
    for off in cat.table("offerings").values():
        if off.id.startswith(f"{cloud}-") and off.kind == "cloud":
            return str(off.provider)
    return cloud


def _pick_region(rows: list[VmRow], prefer: str | None) -> str:
    regions = {r.region for r in rows}
    if prefer and prefer in regions:
        return prefer
    # Cheapest on-demand region, ties by name: deterministic and what a buyer would pick.
    return min(
        regions, key=lambda reg: (min(r.price or math.inf for r in rows if r.region == reg), reg)
    )


def build_import(
    cat: Catalog,
    rows: list[VmRow],
    *,
    cloud: str,
    source_key: str,
    as_of: dt.date,
    region: str | None,
    mapping: dict[str, str],
) -> Import:
    """Offerings (override entries) from rows: one per instance type, in one region."""
    out = Import()
    by_type: dict[str, list[VmRow]] = {}
    for r in rows:
        by_type.setdefault(r.instance_type, []).append(r)
    provider = provider_name(cat, cloud)
    for itype in sorted(by_type):
        group = by_type[itype]
        first = group[0]
        old = existing_offering(cat, cloud, itype)
        if old is not None and first.accelerator_name.lower() not in mapping:
            # The catalog already says which part this instance has; GpuInfo must agree.
            acc, why = old.accelerator, _memory_disagrees(cat, old.accelerator, first)
        else:
            acc, why = match_accelerator(cat, first.accelerator_name, first.memory_mib, mapping)
        if acc is None or why:
            out.unknown.setdefault(first.accelerator_name, why)
            continue
        if region is not None and region not in {r.region for r in group}:
            out.skipped["instance types not offered in that --region"] = (
                out.skipped.get("instance types not offered in that --region", 0) + 1
            )
            continue
        where = _pick_region(group, region or (old.region if old else None))
        here = [r for r in group if r.region == where]
        prices = [r.price for r in here if r.price is not None]
        spots = [r.spot_price for r in here if r.spot_price is not None]
        spread = (
            f"on-demand {min(prices):g}-{max(prices):g} across zones; minimum kept"
            if max(prices) > min(prices)
            else None
        )
        entry: dict[str, Any] = {"id": old.id if old else offering_id(cloud, itype)}
        if old is None:
            entry |= {
                "provider": provider,
                "name": itype,
                "kind": "cloud",
                "accelerator": acc,
                "accelerator_count": first.accelerator_count,
            }
            if first.vcpus:
                entry["vcpus"] = first.vcpus
            if first.host_memory_gib:
                entry["host_memory_gib"] = _figure(first.host_memory_gib, source_key, as_of)
        entry["region"] = where
        entry["on_demand_usd_per_hour"] = _figure(min(prices), source_key, as_of, spread)
        # An empty SpotPrice means no spot offering: the override clears an older spot price.
        entry["spot_usd_per_hour"] = (
            _figure(min(spots), source_key, as_of, "minimum over the region's zones")
            if spots
            else None
        )
        out.offerings.append(entry)
        (out.updated if old else out.added).append(entry["id"])
    return out


def override_document(result: Import, source: dict[str, Any]) -> dict[str, Any]:
    """The catalog override: the source entry the figures cite, then the offerings."""
    return {"schema_version": 1, "sources": [source], "offerings": result.offerings}


def file_date(path: Path) -> dt.date:
    """The CSV's modification date (UTC): the date its prices were fetched, as far as the
    file itself can tell."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC).date()
