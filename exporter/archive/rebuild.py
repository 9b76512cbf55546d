"""Rebuild the registry from the directory tree, and delete a version consistently.

Guarantees (tests named after them):
- rebuild_restores_a_lost_table / corrupt_or_missing_versions_json_is_detected_and_rebuild_restores_it:
  ``versions.json`` becomes, per identifier, the highest ``v{N}`` on disk (or the old entry if higher and
  still readable); the table gets one row per version directory.
- rebuild_never_reuses_numbers_of_deleted_versions: a readable entry is kept even when every version
  directory of its identifier has been deleted, so the next ``allocate`` continues after it.
- delete_removes_directory_and_row_consistently: the directory is first renamed out of the layout
  (atomic), then the row is deleted, then the files; a crash in between leaves nothing that looks like
  a version.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArchiveError, IdentifierError, VersionNotFoundError, VersionStateError
from .naming import CURVES_FILE, METADATA_FILE, STATE_COMPLETE, STATE_RESERVED, ModelKey, archive_path
from .naming import parse_version_dir as _parse_v
from .status import read_status

if TYPE_CHECKING:
    from .archive import ModelArchive

__all__ = ["RebuildResult", "delete_version", "rebuild", "scan_versions"]


@dataclass(frozen=True)
class RebuildResult:
    """What ``rebuild`` wrote: ``versions`` (the new versions.json), ``rows`` indexed, ``skipped`` paths."""

    versions: dict[str, int]
    rows: int
    skipped: list[str] = field(default_factory=list)


def scan_versions(root: Path) -> tuple[list[tuple[ModelKey, int]], list[str]]:
    """Every ``(key, version)`` directory under ``root``, and the directories that fit no key."""
    found: list[tuple[ModelKey, int]] = []
    skipped: list[str] = []
    for dirpath, dirnames, _ in os.walk(root):
        versions = sorted(v for v in map(_parse_v, dirnames) if v is not None)
        if versions:
            rel = Path(dirpath).relative_to(root).as_posix()
            try:
                key = ModelKey.from_relative_dir(rel)
            except IdentifierError:
                skipped.append(rel)
            else:
                found += [(key, v) for v in versions]
            dirnames[:] = [d for d in dirnames if _parse_v(d) is None]  # never descend into versions
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    return found, skipped


def _row_from_disk(archive: ModelArchive, key: ModelKey, version: int) -> dict[str, Any]:
    directory = archive_path(archive.root, key, version)
    status = read_status(directory)
    try:
        created = dt.datetime.fromisoformat(status["created_at"])
    except (KeyError, TypeError, ValueError):
        created = dt.datetime.fromtimestamp(directory.stat().st_mtime, dt.UTC)
    row = archive._row(key, version, status["state"], created, manifest_sha256=status.get("manifest_sha256"))
    if status["state"] == STATE_COMPLETE:
        try:
            meta = json.loads((directory / METADATA_FILE).read_bytes())
            row["metrics_summary"] = meta["archive"]["metrics_summary"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # verify reports it
        try:
            curves = json.loads((directory / CURVES_FILE).read_bytes())
            row["curves"] = curves
            row["best_step"] = (curves.get("best") or {}).get("step")
        except (OSError, ValueError, AttributeError):
            pass  # verify reports it
    return row


def rebuild(archive: ModelArchive) -> RebuildResult:
    """Reconstruct ``versions.json`` and the ``model_versions`` table from the directory tree."""
    with archive.versions.lock():
        found, skipped = scan_versions(archive.root)
        try:
            mapping = archive.versions.read()
        except ArchiveError:
            mapping = {}  # corrupt or missing: the tree decides
        for key, version in found:  # entries without directories stay: their numbers are never reused
            mapping[key.identifier] = max(mapping.get(key.identifier, 0), version)
        archive.versions.write(mapping)
        rows = [_row_from_disk(archive, key, version) for key, version in found]
        archive.registry.replace_all(rows)
    return RebuildResult(dict(sorted(mapping.items())), len(rows), skipped)


def delete_version(archive: ModelArchive, key: ModelKey, version: int, force: bool = False) -> None:
    """Remove one version's directory and its row; a reserved version (maybe training) needs ``force``."""
    with archive.versions.lock():
        directory = archive_path(archive.root, key, version)
        row = archive.registry.get(key.identifier, version)
        if not directory.is_dir() and row is None:
            raise VersionNotFoundError.of(key.identifier, version)
        if directory.is_dir() and read_status(directory)["state"] == STATE_RESERVED and not force:
            raise VersionStateError(
                f"{key.identifier} v{version} is reserved and may still be training; "
                "stop the run first, or pass --force."
            )
        trash = directory.with_name(f".{directory.name}.deleting-{secrets.token_hex(4)}")
        if directory.is_dir():
            os.replace(directory, trash)
        archive.registry.delete(key.identifier, version)
        shutil.rmtree(trash, ignore_errors=True)
