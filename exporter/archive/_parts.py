"""What ``rebuild`` and ``verify`` need of an archive, as a protocol: they depend on it, not on
``ModelArchive``, so ``archive.py`` imports them at the top and no module of the package imports back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol

from .naming import ModelKey
from .records import VersionRecord
from .registry import Registry
from .storage import Storage
from .versions_file import VersionsFile

__all__ = ["ArchiveParts"]


class ArchiveParts(Protocol):
    """An archive root with its ``versions.json`` and registry (``ModelArchive`` is one)."""

    root: Path
    versions: VersionsFile
    registry: Registry
    read_only: bool
    storage: Storage

    def root_id(self) -> str:
        """This root's id, recorded in the rows it writes."""

    def reading_root(self) -> str:
        """This root's id for reading the registry (``""`` while it has none); creates nothing."""

    def row(self, key: ModelKey, version: int, status: str, created_at: dt.datetime, **extra: Any) -> dict:
        """The registry row of one version of ``key``."""

    def get(self, identifier: str, version: int | str = "latest") -> VersionRecord:
        """One version's record (``"latest"``: the highest complete one)."""

    def checkout(self, key: ModelKey, version: int, *, fresh: bool = False, digest: str | None = None) -> Path:
        """The local directory of a version, holding its stored files."""
