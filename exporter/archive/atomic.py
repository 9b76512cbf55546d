"""Atomic file writes: every write goes to a temporary file in the same directory, then ``os.replace``.

A reader (or a crash) therefore sees either the old file or the whole new one, never a partial one.
Temporary names contain ``TEMP_MARKER`` and keep the final suffix (``.png``, ``.pth``), so a killed
writer leaves only a recognisable ``.name.tmp-…`` file that is never part of a version.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .naming import TEMP_MARKER

__all__ = [
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "is_temp_name",
    "sha256_file",
    "strict_json",
]

_CHUNK = 1 << 20


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.stem}{TEMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def is_temp_name(name: str) -> bool:
    """True for the name of a temporary file left by an interrupted atomic write (ours or the recorder's)."""
    return name.startswith(".") and (TEMP_MARKER in name or name.endswith(".tmp") or ".tmp." in name)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is fsynced and moved onto ``path``."""
    path = Path(path)
    tmp = _temp_path(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)


def strict_json(obj: Any) -> str:
    """Sorted, indented JSON with no NaN/Infinity literals (a non-finite float raises ``ValueError``)."""
    return json.dumps(obj, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as strict JSON (see ``strict_json``) to ``path`` atomically."""
    atomic_write_bytes(path, strict_json(obj).encode("utf-8"))


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save(obj, path)`` through a temporary file and ``os.replace`` (for checkpoints)."""
    import torch

    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
