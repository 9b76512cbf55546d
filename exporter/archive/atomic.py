"""The archive's file helpers: atomic writes (``exporter._atomic``, shared by every area), strict JSON,
``torch.save`` through a temporary file, and SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from curvewatch._atomic import atomic_write, atomic_write_bytes

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


def is_temp_name(name: str) -> bool:
    """True for the name of a temporary file left by an interrupted write (``TEMP_MARKER``, or ``.tmp``)."""
    return name.startswith(".") and (TEMP_MARKER in name or name.endswith(".tmp") or ".tmp." in name)


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
