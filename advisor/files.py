"""Writing files a command produces: check the destination first, then write atomically
(a temporary file beside the target, renamed over it), so a failure leaves nothing
half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from advisor.errors import DataError, UsageError


def check_destination(path: Path) -> Path:
    """Fail before any work when a report could not be written to `path`."""
    if path.exists() and path.is_dir():
        raise UsageError(f"--out {path}: is a folder; give a file name, e.g. {path}/report.html")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"--out {path}: folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise UsageError(f"--out {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"--out {path}: cannot write in folder {parent}")
    return path


def replace_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`:
    readers see the old file or the whole new one, and a failure leaves nothing (the
    OSError propagates)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, text: str) -> None:
    """`replace_atomically` into a checked destination; a failure is one DataError line."""
    check_destination(path)
    try:
        replace_atomically(path, text)
    except OSError as e:
        raise DataError(f"--out {path}: cannot write: {e.strerror or e}") from e
