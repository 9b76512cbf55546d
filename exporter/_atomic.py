"""Atomic file writes for every area: a temporary file in the same directory, then ``os.replace``.

A reader (or a crash) therefore sees either the old file or the whole new one, never a partial one.
Temporary names contain ``TEMP_MARKER`` and keep the final suffix (``.png``, ``.pth``), so a killed
writer leaves only a recognisable ``.name.tmp-…`` file; a file that a watcher globs by its suffix (a
Prometheus file-SD target ``*.json``) is written under ``temp_suffix`` instead, so the watcher never
reads it half-written.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TEMP_MARKER", "atomic_write", "atomic_write_bytes", "atomic_write_text"]

TEMP_MARKER = ".tmp-"  # in the names of temporary files (never part of an archived version)


def _temp_path(path: Path, suffix: str | None = None) -> Path:
    suffix = path.suffix if suffix is None else suffix
    return path.with_name(f".{path.stem}{TEMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike[str], temp_suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write (ending in ``temp_suffix``, default ``path``'s suffix); on success it
    is fsynced and moved onto ``path``."""
    path = Path(path)
    tmp = _temp_path(path, temp_suffix)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, temp_suffix: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, temp_suffix) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, temp_suffix: str | None = None) -> None:
    """Write ``text`` as UTF-8 (newlines as given) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), temp_suffix)
