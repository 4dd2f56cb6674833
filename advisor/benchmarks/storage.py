"""Storage: sequential read of a scratch file, bypassing the page cache where possible.

The file is written with incompressible bytes and fsync'ed, then read front to
back in large blocks. The page cache is bypassed with O_DIRECT (page-aligned
buffer, block-multiple reads) where the file system accepts it; otherwise the
file's cached pages are dropped with posix_fadvise(POSIX_FADV_DONTNEED) before
each pass (effective once the pages are clean); where neither exists the
result is marked `none` and measures the cache.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path

from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.results import StorageRow

NAME = "storage"
MB = 1_000_000


def write_scratch(path: Path, size: int, block: int) -> None:
    chunk = os.urandom(block)
    with open(path, "wb") as f:
        for _ in range(size // block):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def open_direct(path: Path) -> int | None:
    """An O_DIRECT descriptor, or None where the OS or file system refuses it."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_RDONLY | flag)
    except OSError:
        return None


def read_pass(fd: int, buf: mmap.mmap, size: int, drop_cache: bool) -> int:
    """Read the whole file once; returns bytes read."""
    if drop_cache:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.lseek(fd, 0, os.SEEK_SET)
    done = 0
    while done < size:
        n = os.readv(fd, [buf])
        if n <= 0:
            break
        done += n
    return done


def run(ctx: Context) -> Outcome:
    out = Outcome()
    size = ctx.size(full=1024 * 2**20, quick=128 * 2**20, tiny=2 * 2**20)
    block = ctx.size(full=8 * 2**20, quick=4 * 2**20, tiny=2**20)
    folder = Path(ctx.scratch)
    fd_tmp, name = tempfile.mkstemp(prefix=".advisor-bench-", suffix=".scratch", dir=folder)
    os.close(fd_tmp)
    path = Path(name)
    try:
        write_scratch(path, size, block)
        buf = mmap.mmap(-1, block)  # page-aligned, as O_DIRECT requires
        fd = open_direct(path)
        bypass = "o_direct"
        if fd is not None:
            try:
                read_pass(fd, buf, size, drop_cache=False)
            except OSError:
                os.close(fd)
                fd = None
        if fd is None:
            fd = os.open(path, os.O_RDONLY)
            bypass = "fadvise" if hasattr(os, "posix_fadvise") else "none"
        drop = bypass == "fadvise"
        try:
            stats = ctx.measure(
                lambda: read_pass(fd, buf, size, drop), warmup=1, target_sample_s=0.0, inner=1
            )
        finally:
            os.close(fd)
            buf.close()
        out.rows.append(
            StorageRow(
                path=str(folder.resolve()),
                file_bytes=size,
                block_bytes=block,
                cache_bypass=bypass,  # type: ignore[arg-type]
                time=stats,
                mbps=size / stats.median_s / MB,
            )
        )
        if bypass == "none":
            out.notes.append("page cache not bypassed: the figure is the cache's, not the disk's")
    finally:
        path.unlink(missing_ok=True)
    return out
