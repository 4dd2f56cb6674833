"""`advisor catalog list|show|validate`: browse and check the hardware catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from advisor.catalog.schema import KINDS
from advisor.cli import import_skypilot_cmd
from advisor.cli.common import CatalogOpt, JsonOpt, catalog_from, console, print_json
from advisor.errors import unknown

app = typer.Typer(help="Browse and check the hardware catalog.", no_args_is_help=True)

# Every kind of catalog file but rental terms, which have no table of their own
# ('advisor catalog show ID' shows one).
LISTABLE = tuple(k for k in KINDS if k != "terms")


def _fig(f: Any) -> str:
    if f is None:
        return ""
    v = f.value
    return f"{v:,.0f}" if v >= 100 else f"{v:.4g}"


def _rows(kind: str, entries: list[Any]) -> tuple[list[str], list[list[str]]]:
    if kind == "accelerators":
        head = ["id", "name", "memory GB", "mem GB/s", "bf16 TF", "fp16 TF", "fp8 TF", "link GB/s"]
        rows = [
            [
                a.id,
                a.name,
                _fig(a.memory_gb),
                _fig(a.memory_bandwidth_gbs),
                _fig(a.peak_tflops.get("bf16")),
                _fig(a.peak_tflops.get("fp16")),
                _fig(a.peak_tflops.get("fp8")),
                _fig(a.intra_node_bandwidth_gbs),
            ]
            for a in entries
        ]
    elif kind == "offerings":
        head = ["id", "provider", "accelerator", "x", "on-demand $/h", "spot $/h", "region"]
        rows = [
            [
                o.id,
                o.provider,
                o.accelerator,
                str(o.accelerator_count),
                f"{o.price_per_hour('on-demand'):.2f}"
                if o.price_per_hour("on-demand") is not None
                else "",
                _fig(o.spot_usd_per_hour),
                o.region or "",
            ]
            for o in entries
        ]
    elif kind == "cpus":
        head = ["id", "name", "cores", "base GHz", "FP32 TF"]
        rows = [
            [
                c.id,
                c.name,
                _fig(c.cores),
                _fig(c.base_ghz),
                f"{c.peak_fp32_tflops:.2f}" if c.peak_fp32_tflops else "",
            ]
            for c in entries
        ]
    elif kind == "networks":
        head = ["id", "name", "scope", "GB/s (one way)", "latency us"]
        rows = [[n.id, n.name, n.scope, _fig(n.bandwidth_gbs), _fig(n.latency_us)] for n in entries]
    elif kind == "storage":
        head = ["id", "name", "kind", "read MB/s", "write MB/s", "MB/s per TiB"]
        rows = [
            [s.id, s.name, s.kind, _fig(s.read_mbps), _fig(s.write_mbps), _fig(s.read_mbps_per_tib)]
            for s in entries
        ]
    elif kind == "profiles":
        head = ["id", "accelerator", "matmul efficiency", "memory efficiency"]
        rows = [
            [
                p.id,
                p.accelerator,
                ", ".join(f"{k} {v.max_efficiency.value:.2f}" for k, v in p.matmul.items()),
                f"{p.memory_bandwidth.max_efficiency.value:.2f}" if p.memory_bandwidth else "",
            ]
            for p in entries
        ]
    elif kind == "stacks":
        head = ["id", "name", "flash attention", "DP overlap", "TP overlap", "ZeRO stages"]
        rows = [
            [
                s.id,
                s.name,
                "yes" if s.flash_attention.value else "no",
                "yes" if s.dp_overlap.value else "no",
                str(s.tp_overlap.value),
                ", ".join(map(str, s.zero_stages.value)),
            ]
            for s in entries
        ]
    else:
        head = ["key", "title", "address"]
        rows = [[s.key, s.title, s.address] for s in entries]
    return head, rows


@app.command("list")
def list_entries(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(LISTABLE)}.")] = "accelerators",
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List catalog entries of one kind."""
    k = kind.strip().lower()
    if k not in LISTABLE:
        singular = {x.rstrip("s"): x for x in LISTABLE}
        if k in singular:
            k = singular[k]
        else:
            raise unknown("catalog kind", kind, LISTABLE)
    cat = catalog_from(catalog)
    entries = list(cat.table(k).values())
    if k == "accelerators":
        entries = [cat.accelerator(e.id) if e.id == "cpu" else e for e in entries]
    if json_out:
        print_json({k: [e.model_dump(mode="json", exclude_none=True) for e in entries]})
        return
    from rich.table import Table

    head, rows = _rows(k, entries)
    t = Table(title=f"{len(entries)} {k}", show_edge=False)
    for h in head:
        t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(*r)
    console().print(t)


@app.command("show")
def show(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="Id or alias of any entry.")],
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one entry with every figure's source and date."""
    from advisor.catalog import iter_figures

    cat = catalog_from(catalog)
    kind, entry = cat.find(entry_id)
    if kind == "accelerators":
        entry = cat.accelerator(entry.id)
    elif kind == "cpus":
        entry = cat.cpu(entry.id)
    figures = iter_figures(entry)
    if json_out:
        doc = entry.model_dump(mode="json", exclude_none=True)
        doc["kind"] = kind
        doc["sources"] = {f.source: cat.source_of(f) for _, f in figures if f.source in cat.sources}
        if kind == "offerings":
            doc["price_per_hour_usd"] = {
                p: entry.price_per_hour(p) for p in ("on-demand", "spot", "reserved")
            }
        print_json(doc)
        return
    c = console()
    title = getattr(entry, "name", None) or getattr(entry, "title", "")
    c.print(f"[bold]{entry_id}[/] ({kind}): {title}")
    for name in type(entry).model_fields:
        val = getattr(entry, name)
        if val in (None, [], {}, "") or isinstance(val, BaseModel | dict):
            continue
        c.print(f"  {name}: {val}")
    from rich.markup import escape

    for path, f in figures:
        dates = f"read {f.as_of}" + (f", published {f.published}" if f.published else "")
        c.print(f"  {path} = {f.value:g}   [dim]({escape(f.source)}, {dates})[/]")
        if f.note:
            c.print(f"      [dim]note: {escape(f.note)}[/]")
        if f.conflict:
            c.print(f"      [yellow]conflict: {escape(f.conflict)}[/]")
    if kind == "offerings" and entry.kind == "onprem":
        c.print(f"  hourly cost (amortised + energy) = ${entry.price_per_hour():.2f}/h")
    used = sorted({f.source for _, f in figures})
    if used:
        c.print("sources:")
        for key in used:
            src = cat.sources.get(key)
            c.print(f"  {key}: {escape(src.title + ' — ' + src.address) if src else key}")


@app.command("validate")
def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Catalog files or folders to check (default: the shipped catalog)."),
    ] = None,
) -> None:
    """Check catalog files: syntax, schema, ids, cross references and sources."""
    from advisor.catalog import build_catalog
    from advisor.catalog.loader import shipped_files, user_files

    shipped = shipped_files()
    extra = user_files(list(paths or [])) if paths else []
    if paths and not extra:
        from advisor.errors import DataError

        raise DataError(f"no .yaml files under {', '.join(str(p) for p in paths)}")
    cat = build_catalog(shipped, extra)
    counts = ", ".join(f"{len(cat.table(k))} {k}" for k in LISTABLE)
    checked = extra or shipped
    console().print(f"ok: {len(checked)} file(s) valid; catalog has {counts}")


app.command("import-skypilot", no_args_is_help=True)(import_skypilot_cmd.import_skypilot)
