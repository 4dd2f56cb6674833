"""Writing and reading benchmark result files: atomically (advisor/files.py), so an
interrupted run keeps the last complete file, and validated on the way back in."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from advisor.files import replace_atomically as atomic_write_text

if TYPE_CHECKING:
    from advisor.benchmarks.results import BenchFile

__all__ = ["atomic_write_text", "check_writable", "read_bench_file", "to_json", "write_record"]


def to_json(record: BaseModel) -> str:
    return record.model_dump_json(indent=1) + "\n"


def write_record(path: Path, record: BaseModel) -> None:
    atomic_write_text(path, to_json(record))


def check_writable(path: Path) -> None:
    """Raise OSError now, before any work, if `path` cannot be written atomically."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder")
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    os.close(fd)
    os.unlink(tmp)


def read_bench_file(path: Path) -> BenchFile:
    """Parse and validate a results file (pydantic ValidationError on a bad one)."""
    from advisor.benchmarks.results import BenchFile

    return BenchFile.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
