"""`advisor catalog import-skypilot vms.csv --out prices.yaml`: fresh cloud prices from a
SkyPilot catalog CSV, written as a catalog override that `--catalog` then reads."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from advisor.cli.common import CatalogOpt, catalog_from, console
from advisor.errors import DataError, UsageError


def _as_of(text: str | None, csv_path: Path) -> tuple[dt.date, str]:
    """The date the prices hold: --as-of if given, else the file's modification date."""
    from advisor.catalog.skypilot import file_date

    if text is None:
        return file_date(csv_path), f"the modification date of {csv_path.name}"
    try:
        return dt.date.fromisoformat(text.strip()), "--as-of"
    except ValueError:
        raise UsageError(f"--as-of '{text}': expected a date YYYY-MM-DD") from None


def _cloud(given: str | None, csv_path: Path, known: set[str]) -> str:
    """--cloud, else the folder the file sits in (catalogs/v8/<cloud>/vms.csv) when the
    catalog already has offerings of that cloud."""
    if given:
        cloud = given.strip().lower()
        if not cloud or not cloud.replace("-", "").replace(".", "").isalnum():
            raise UsageError(f"--cloud '{given}': use a short lower-case name such as aws")
        return cloud
    folder = csv_path.resolve().parent.name.lower()
    if folder in known:
        return folder
    raise UsageError(
        f"cannot tell the cloud from the folder '{folder}'; say --cloud "
        f"({', '.join(sorted(known))}, or a new name)"
    )


class _PlainDumper(yaml.SafeDumper):
    """Writes every date in full (no YAML anchors for the shared as_of date)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _dump(doc: dict[str, object], header: str) -> str:
    body = yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body


def import_skypilot(
    csv_file: Annotated[Path, typer.Argument(metavar="VMS.CSV", help="A SkyPilot vms.csv.")],
    out: Annotated[
        Path, typer.Option("--out", help="Catalog override file to write (YAML).")
    ] = Path("prices.yaml"),
    cloud: Annotated[
        str | None,
        typer.Option(
            "--cloud",
            help="Cloud the file prices (id prefix, e.g. aws); default: the file's folder.",
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Region to price; default: the catalog offering's region, else the cheapest.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Date the prices hold (YYYY-MM-DD); default: the file's mtime."
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="NAME=ID: which catalog accelerator a SkyPilot name is (repeatable)."
        ),
    ] = None,
    catalog: CatalogOpt = None,
) -> None:
    """Turn a SkyPilot catalog CSV into a price override for --catalog."""
    from advisor.catalog import build_catalog
    from advisor.catalog.loader import shipped_files, user_files
    from advisor.catalog.skypilot import build_import, override_document, parse_mapping, read_rows
    from advisor.files import check_destination, write_atomic

    if not csv_file.is_file():
        raise DataError(f"{csv_file}: file not found")
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{csv_file}: cannot read: {e}") from e
    check_destination(out)
    maps = parse_mapping(list(mapping or []))
    date, said = _as_of(as_of, csv_file)
    cat = catalog_from(catalog)
    known = {o.id.split("-", 1)[0] for o in cat.table("offerings").values() if o.kind == "cloud"}
    name = _cloud(cloud, csv_file, known)
    rows, skipped = read_rows(csv_file, text)
    key = f"skypilot-import-{name}"
    result = build_import(
        cat, rows, cloud=name, source_key=key, as_of=date, region=region, mapping=maps
    )
    for reason, n in skipped.items():
        result.skipped[reason] = result.skipped.get(reason, 0) + n
    if not result.offerings:
        why = "; ".join(f"{k}: {v}" for k, v in result.unknown.items()) or "no GPU rows"
        raise DataError(f"{csv_file}: nothing to import ({why})")
    source = {
        "key": key,
        "title": f"SkyPilot catalog CSV for {name}, imported by advisor "
        "(USD per instance-hour for the whole VM: the catalog does not state the unit)",
        "address": str(csv_file.resolve()),
        "as_of": date,
    }
    header = (
        f"Prices imported from {csv_file.name} by `advisor catalog import-skypilot`.\n"
        f"as_of {date.isoformat()}: {said}.\n"
        f"Use with: advisor recommend ... --catalog {out.name}"
    )
    text_out = _dump(override_document(result, source), header)
    # Check the override against the catalog before anything lands at --out.
    tmp = out.with_name(f".{out.name}.check.yaml")
    try:
        tmp.write_text(text_out, encoding="utf-8")
        build_catalog(shipped_files(), [*user_files(list(catalog or [])), tmp])
    except OSError as e:
        raise DataError(f"--out {out}: cannot write: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
    write_atomic(out, text_out)
    c = console()
    c.print(
        f"wrote {out}: {len(result.updated)} offering(s) re-priced, {len(result.added)} added "
        f"({name}); as_of {date.isoformat()} ({said})"
    )
    for reason, n in sorted(result.skipped.items()):
        c.print(f"  left out {n}: {reason}")
    for acc_name, why in sorted(result.unknown.items()):
        sys.stderr.write(f"advisor: unknown accelerator '{acc_name}' left out: {why}\n")
