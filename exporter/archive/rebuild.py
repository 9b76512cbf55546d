"""Rebuild the registry from the directory tree, and delete a version consistently.

Guarantees (tests named after them):
- rebuild_restores_a_lost_table / corrupt_or_missing_versions_json_is_detected_and_rebuild_restores_it:
  ``versions.json`` becomes, per identifier, the highest ``v{N}`` on disk (or the old entry if higher and
  still readable); the table gets one row per version directory.
- rebuild_never_reuses_numbers_of_deleted_versions: a readable entry is kept even when every version
  directory of its identifier has been deleted, so the next ``allocate`` continues after it.
- rebuild_keeps_keys_whose_fields_look_like_versions: a key field named ``v3`` (``--store v3``) is a
  directory on the way to a model, not a version: the scan only takes ``v{N}`` for a version directly
  under a model directory, and descends everywhere else.
- rebuild_never_indexes_a_tampered_version_as_complete: a complete version whose files no longer match
  its manifest (``check_manifest``) is indexed as ``tampered`` and named in ``tampered``.
- rebuild_repairs_what_it_can_and_names_what_it_cannot: unreadable ``metadata.json``/``curves.json``
  (too deep, not UTF-8, invalid) leave the row without them and are named in ``unreadable``; on a shared
  PostgreSQL registry a version indexed by another root is named in ``conflicts``, its row untouched.
- a_commit_killed_while_indexing_is_settled_on_read: a row still ``reserved`` whose directory is marked
  complete (a commit killed after the mark, before its row was written) is read as the directory says
  (``settled``: complete, or tampered when its files differ from the manifest) and re-indexed then, unless
  the archive is read-only; no ``rebuild`` is needed.
- delete_removes_directory_and_row_consistently: the directory is first renamed out of the layout
  (atomic), then the row is deleted, then the files; a crash in between leaves nothing that looks like
  a version. On a URL root the stored status marker goes first (a prefix without one is never complete),
  then the row, then the other objects.
- rebuild_of_a_url_root_reads_the_store: on a URL root rebuild first makes this host's cache hold exactly
  the versions in the object store (one LIST, then every object: the recovery path, never the hot one).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curvewatch._json_reader import JSONReadError, read_json_file

from ._parts import ArchiveParts
from .errors import ArchiveError, IdentifierError, VersionNotFoundError, VersionStateError
from .manifest import check_manifest
from .naming import (
    CURVES_FILE,
    METADATA_FILE,
    MODEL_FILE,
    STATE_COMPLETE,
    STATE_RESERVED,
    STATE_TAMPERED,
    STATUS_FILE,
    ModelKey,
    archive_path,
)
from .naming import parse_version_dir as _parse_v
from .status import read_status

__all__ = ["RebuildResult", "delete_version", "rebuild", "scan_versions", "settled"]


@dataclass(frozen=True)
class RebuildResult:
    """What ``rebuild`` wrote: ``versions`` (the new versions.json), ``rows`` indexed, ``skipped`` paths
    (not in the layout), ``unreadable`` files (indexed without them), ``conflicts`` (versions another
    root indexed in a shared registry) and ``tampered`` versions (indexed as such, with the first problem)."""

    versions: dict[str, int]
    rows: int
    skipped: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)


def scan_versions(root: Path) -> tuple[list[tuple[ModelKey, int]], list[str]]:
    """Every ``(key, version)`` directory under ``root``, and the directories that fit no key."""
    found: list[tuple[ModelKey, int]] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root).as_posix()
        versions = [v for v in map(_parse_v, dirnames) if v is not None]
        key = None
        if versions and rel != ".":
            try:
                key = ModelKey.from_relative_dir(rel)
            except IdentifierError:
                key = None  # a key field named like a version (``v3``): keep descending
        if key is not None:
            found += [(key, v) for v in sorted(versions)]
            dirnames[:] = [d for d in dirnames if _parse_v(d) is None]  # never descend into versions
        elif STATUS_FILE in filenames or MODEL_FILE in filenames:
            skipped.append(rel)  # looks like a version, but not where the layout puts one
    return found, skipped


def _created_at(status: dict[str, Any], directory: Path) -> dt.datetime:
    try:
        created = dt.datetime.fromisoformat(status["created_at"])
    except (KeyError, TypeError, ValueError):
        created = dt.datetime.fromtimestamp(directory.stat().st_mtime, dt.UTC)
    return created if created.tzinfo is not None else created.replace(tzinfo=dt.UTC)


def _row_from_disk(archive: ArchiveParts, key: ModelKey, version: int, unreadable: list[str],
                   tampered: list[str]) -> dict[str, Any]:
    """The row of one version directory; files that cannot be indexed are appended to ``unreadable``, a
    complete version whose files differ from its manifest to ``tampered``."""
    from curvewatch.recorder import CurveDocumentError, validate_document

    directory = archive_path(archive.root, key, version)
    rel = directory.relative_to(archive.root).as_posix()
    status = read_status(directory)
    if "problem" in status and (directory / STATUS_FILE).exists():
        unreadable.append(f"{rel}/{STATUS_FILE} ({status['problem']}; indexed as reserved)")
    digest = status.get("manifest_sha256")
    digest = digest if isinstance(digest, str) and len(digest) == 64 else None
    state = status["state"]
    if state == STATE_COMPLETE and (problems := check_manifest(directory, digest)):
        tampered.append(f"{rel} ({problems[0]})")
        state = STATE_TAMPERED
    row = archive.row(key, version, state, _created_at(status, directory), manifest_sha256=digest)
    if status["state"] == STATE_COMPLETE:
        try:
            summary = read_json_file(directory / METADATA_FILE)["archive"]["metrics_summary"]
            if not isinstance(summary, dict):
                raise TypeError("metrics_summary is not an object")
            row["metrics_summary"] = summary
        except (OSError, JSONReadError, KeyError, TypeError) as exc:
            unreadable.append(f"{rel}/{METADATA_FILE} ({exc})")
        try:
            curves = read_json_file(directory / CURVES_FILE)
            validate_document(curves)
            row["curves"] = curves
            best_step = (curves.get("best") or {}).get("step")
            row["best_step"] = best_step if type(best_step) is int else None
        except (OSError, JSONReadError, CurveDocumentError) as exc:
            unreadable.append(f"{rel}/{CURVES_FILE} ({str(exc).splitlines()[0]})")
    return row


def settled(archive: ArchiveParts, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with each ``reserved`` row whose directory is marked complete (in the store, for a URL root)
    replaced by the row of its directory, which is written to the registry too unless the archive is
    read-only."""
    out = []
    for row in rows:
        if row["status"] == STATE_RESERVED:
            key = ModelKey.parse(row["model_identifier"])
            directory = archive_path(archive.root, key, row["version"])
            if archive.storage.read_state(directory)["state"] == STATE_COMPLETE:
                archive.checkout(key, row["version"], fresh=True)
                fresh = _row_from_disk(archive, key, row["version"], [], [])
                if not archive.read_only:
                    archive.registry.upsert(fresh)
                row = {**row, **fresh}
        out.append(row)
    return out


def rebuild(archive: ArchiveParts) -> RebuildResult:
    """Reconstruct ``versions.json`` and the ``model_versions`` table from the directory tree."""
    with archive.versions.lock():
        _mirror_store(archive)
        found, skipped = scan_versions(archive.root)
        try:
            mapping = archive.versions.read()
        except ArchiveError:
            mapping = {}  # corrupt or missing: the tree decides
        for key, version in found:  # entries without directories stay: their numbers are never reused
            mapping[key.identifier] = max(mapping.get(key.identifier, 0), version)
        unreadable: list[str] = []
        tampered: list[str] = []
        rows = [_row_from_disk(archive, key, version, unreadable, tampered) for key, version in found]
        conflicts = archive.registry.replace_root(archive.root_id(), rows)
        archive.versions.write(mapping)
    return RebuildResult(dict(sorted(mapping.items())), len(rows) - len(conflicts), skipped, unreadable, conflicts,
                         tampered)


def _mirror_store(archive: ArchiveParts) -> None:
    """A URL root: drop cached versions the store no longer holds, fetch every one it holds."""
    if not archive.storage.remote:
        return
    stored = archive.storage.version_dirs()
    for key, version in scan_versions(archive.root)[0]:
        directory = archive_path(archive.root, key, version)
        if directory not in stored and read_status(directory)["state"] != STATE_RESERVED:
            shutil.rmtree(directory, ignore_errors=True)  # a reserved one may be this host's run in progress
    for directory in stored:
        key = ModelKey.from_relative_dir(directory.parent.relative_to(archive.root).as_posix())
        archive.checkout(key, int(directory.name[1:]), fresh=True)


def delete_version(archive: ArchiveParts, key: ModelKey, version: int, force: bool = False) -> None:
    """Remove one version's directory and its row; a reserved version (maybe training) needs ``force``."""
    with archive.versions.lock():
        directory = archive_path(archive.root, key, version)
        row = archive.registry.get(key.identifier, version, root=archive.reading_root())
        stored = archive.storage.exists(directory)
        if not stored and row is None:
            raise VersionNotFoundError.of(key.identifier, version)
        if stored and archive.storage.read_state(directory)["state"] == STATE_RESERVED and not force:
            raise VersionStateError(
                f"{key.identifier} v{version} is reserved and may still be training; "
                "stop the run first, or pass --force."
            )
        trash = directory.with_name(f".{directory.name}.deleting-{secrets.token_hex(4)}")
        if directory.is_dir():
            os.replace(directory, trash)
        archive.storage.unlist(directory)
        archive.registry.delete(key.identifier, version, archive.root_id())
        archive.storage.remove(directory)
        shutil.rmtree(trash, ignore_errors=True)
