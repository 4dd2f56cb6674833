"""Write a bundle all or nothing: into a temporary folder beside the target, then one
rename. A target that is a file, a folder with files in it, or a place that cannot be
written is refused with one line, before anything is computed where possible."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from advisor.errors import AdvisorError, UsageError


def check_target(target: Path, flag: str = "--emit") -> Path:
    """The folder to write, or a UsageError saying why it cannot be."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"{flag} {target}: is a file, not a folder")
    if target.is_dir() and any(target.iterdir()):
        raise UsageError(f"{flag} {target}: folder is not empty; give a new or empty folder")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {target}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AdvisorError(f"{flag} {target}: cannot write in {parent} (permission denied)")
    return target


def write_bundle(target: Path, files: dict[str, str], flag: str = "--emit") -> None:
    """Write every file of `files` under `target`, or none of them."""
    check_target(target, flag)
    parent = target.resolve().parent
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as e:
        raise AdvisorError(f"{flag} {target}: cannot write in {parent}: {e.strerror}") from e
    try:
        for name, text in files.items():
            path = tmp / name
            path.write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                path.chmod(0o644)
        tmp.chmod(0o755)
        if target.is_dir():
            target.rmdir()  # empty (checked): rename replaces it
        os.rename(tmp, target)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AdvisorError(f"{flag} {target}: {e.strerror or e}") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
