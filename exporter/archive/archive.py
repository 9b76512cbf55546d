"""``ModelArchive``: allocate a version, let the trainer write into it, commit it; look versions up.

Guarantees (each has a test named after it in ``tests/test_archive_*.py``):
- concurrent_allocations_never_share_a_version: ``allocate`` reserves ``v{N}`` under the file lock.
- allocate_indexes_the_reserved_row_while_holding_the_lock: no ``rebuild`` can run between the
  reservation and its row.
- killed_commit_leaves_version_incomplete: ``commit`` writes every file atomically, then the manifest,
  then marks the version complete, then indexes it (``COMMIT_STAGES``); a run killed before the mark
  leaves the version ``reserved``, and earlier complete versions untouched.
- verify_reports_every_changed_missing_or_added_file: a complete version has a manifest of every
  file; ``verify`` recomputes it.
- killed_upload_never_shows_a_complete_version: on a URL root (``s3://bucket/prefix``, see ``storage``) the
  version's prefix is its staging area: commit uploads every file and the manifest to it (stage
  ``"upload"``, between ``"manifest"`` and ``"mark_complete"``), then the complete status marker, then the
  row; until both are there the version is ``reserved`` in the store and in the registry.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .atomic import atomic_write, atomic_write_bytes, atomic_write_json
from .errors import ArchiveError, VersionNotFoundError, VersionStateError
from .manifest import list_payload_files, remove_temp_files, write_manifest
from .naming import (
    CURVES_FILE,
    LOSS_CURVE_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    REGISTRY_DB_FILE,
    STATE_COMPLETE,
    STATE_FAILED,
    STATE_RESERVED,
    STATE_TAMPERED,
    STATUS_FILE,
    ModelKey,
    archive_path,
    validate_version,
)
from .rebuild import RebuildResult, delete_version, rebuild, settled
from .records import VersionHandle, VersionRecord
from .registry import Registry, sqlite_url
from .status import read_status, write_status
from .storage import open_storage
from .verify import verify_version
from .versions_file import DEFAULT_LOCK_TIMEOUT_S, VersionsFile

__all__ = ["COMMIT_STAGES", "ModelArchive"]

# The steps of commit, in order; a crash before "mark_complete" leaves the version reserved.
COMMIT_STAGES = ("curves", "loss_curve", "metadata", "manifest", "mark_complete", "index")
_BEST_MODES: dict[str, Callable[[float, float], bool]] = {
    "min": lambda a, b: a < b,
    "max": lambda a, b: a > b,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _plain(obj: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays via ``tolist``, non-finite floats as "NaN"/"Infinity"."""
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        obj = obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


class ModelArchive:
    """Versioned model directories under ``root``, indexed in a ``model_versions`` table.

    >>> archive = ModelArchive("saved_models")            # SQLite registry next to the root
    >>> handle = archive.allocate(ModelKey.product("P001", model_type="mlstm"))
    >>> atomic_torch_save(model.state_dict(), handle.model_path)
    >>> record = archive.commit(handle, recorder, metadata={...}, metrics_summary={"val_loss": 0.1})
    >>> archive.get("product_P001_all_mlstm").path        # the latest complete version
    >>> ModelArchive("s3://bucket/models", db_url="postgresql+psycopg://...")  # a URL root: see ``storage``
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "saved_models",
        db_url: str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S,
        *,
        read_only: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.storage = open_storage(root, cache_dir, db_url)  # a URL root is cached under cache_dir
        self.root = self.storage.local_root
        self.url: str | None = self.storage.url if self.storage.remote else None
        self.db_url = db_url or sqlite_url(self.root.parent / REGISTRY_DB_FILE)
        self.versions = VersionsFile(self.root, lock_timeout, cache=self.storage.remote)
        self.registry = Registry(self.db_url, read_only=read_only)
        self.read_only = read_only
        self._on_stage: Callable[[str], None] | None = None  # test hook: called before each commit stage

    def _stage(self, stage: str) -> None:
        if self._on_stage is not None:
            self._on_stage(stage)

    def root_id(self) -> str:
        """This root's id (created on first use, under the versions lock); rows record it."""
        if self.read_only:
            raise VersionStateError("This archive was opened read-only; open it without read_only=True to write.")
        root_id = self.versions.root_id()
        if root_id is None:
            with self.versions.lock():
                root_id = self.versions.root_id(create=True)
        return root_id or ""

    def reading_root(self) -> str:
        """This root's id for reading a shared registry (``""`` while it has none); creates nothing, so a
        read-only archive has one too."""
        return self.versions.root_id() or ""

    def row(self, key: ModelKey, version: int, status: str, created_at: dt.datetime, **extra: Any) -> dict:
        """The registry row of one version of ``key`` (what allocate, commit, fail and rebuild write)."""
        rel = archive_path(self.root, key, version).relative_to(self.root).as_posix()
        return {
            "archive_root": self.reading_root() if self.read_only else self.root_id(),
            "model_identifier": key.identifier,
            "model_type": key.model_type,
            "version": version,
            "model_path": rel,
            "created_at": created_at,
            "status": status,
            **extra,
        }

    # -- writing -------------------------------------------------------------------------
    def allocate(self, key: ModelKey) -> VersionHandle:
        """Reserve the next version of ``key`` (its directory is created, marked reserved, and indexed).

        The reserved row is written while ``versions.json``'s lock is held, so a concurrent ``rebuild``
        (which replaces the table under that lock) can neither drop it nor collide with it.
        """
        created = _now()

        def index(floor: int) -> int:  # the registry decides the number (shared registries: across roots)
            return self.registry.allocate(
                key.identifier, self.root_id(), lambda v: self.row(key, v, STATE_RESERVED, created), floor
            )

        def release(version: int) -> None:
            self.registry.delete(key.identifier, version, self.root_id())

        version = self.versions.reserve(key, allocate=index, release=release, created_at=created.isoformat())
        handle = VersionHandle(self.root, key, version)
        try:
            self.storage.upload(handle.path, [STATUS_FILE])  # a URL root: the reserved prefix, seen by rebuild
        except ArchiveError:  # the store is unusable: nothing of this version stays, its number is not reused
            self.registry.delete(key.identifier, version, self.root_id())
            shutil.rmtree(handle.path, ignore_errors=True)
            raise
        return handle

    def _reserved_status(self, handle: VersionHandle) -> dict[str, Any]:
        status = read_status(handle.path)
        if not handle.path.is_dir():
            raise VersionNotFoundError(f"{handle.path} does not exist; allocate a new version.")
        if status["state"] != STATE_RESERVED:
            raise VersionStateError(f"{handle.run_id} is already {status['state']}; allocate a new version.")
        return status

    def commit(
        self,
        handle: VersionHandle,
        document_or_recorder: Any,
        metadata: dict[str, Any] | None = None,
        metrics_summary: dict[str, Any] | None = None,
    ) -> VersionRecord:
        """Write curves.json, loss_curve.png, metadata.json and the manifest, mark complete, index.

        ``model.pth`` must already be in the version directory (``atomic_torch_save``).
        """
        from curvewatch.provenance import with_provenance
        from curvewatch.recorder import decode_document, encode_document, save_png, validate_document

        status = self._reserved_status(handle)
        if not handle.model_path.is_file():
            raise VersionStateError(
                f"{handle.model_path} is missing; save the final model with "
                f"atomic_torch_save(model.state_dict(), handle.model_path) before commit."
            )
        finalize = getattr(document_or_recorder, "finalize", None)
        doc = finalize() if callable(finalize) else document_or_recorder
        validate_document(doc)
        text = encode_document(doc)
        created = dt.datetime.fromisoformat(status.get("created_at") or _now().isoformat())
        summary = _plain(dict(metrics_summary or {}))
        archive_info = {
            "identifier": handle.identifier,
            "version": handle.version,
            "run_id": handle.run_id,
            "model_type": handle.key.model_type,
            "created_at": created.isoformat(),
            "metrics_summary": summary,
        }
        self._stage("curves")
        atomic_write_bytes(handle.path / CURVES_FILE, text.encode("utf-8"))
        self._stage("loss_curve")
        with atomic_write(handle.path / LOSS_CURVE_FILE) as tmp:
            save_png(decode_document(text), tmp)
        self._stage("metadata")
        meta = with_provenance(_plain(dict(metadata or {})))  # every version records where it came from
        atomic_write_json(handle.path / METADATA_FILE, {**meta, "archive": archive_info})
        self._stage("manifest")
        remove_temp_files(handle.path)  # left by writers that died before commit
        digest = write_manifest(handle.path)
        if self.storage.remote:
            self._stage("upload")
            self.storage.upload(handle.path, [*list_payload_files(handle.path), MANIFEST_FILE])
        self._stage("mark_complete")
        write_status(
            handle.path,
            STATE_COMPLETE,
            identifier=handle.identifier,
            version=handle.version,
            created_at=created.isoformat(),
            manifest_sha256=digest,
        )
        self.storage.upload(handle.path, [STATUS_FILE])  # last: the version is complete in the store
        self._stage("index")
        best = doc.get("best") if isinstance(doc, dict) else None
        row = self.row(
            handle.key,
            handle.version,
            STATE_COMPLETE,
            created,
            metrics_summary=summary,
            best_step=best.get("step") if isinstance(best, dict) else None,
            manifest_sha256=digest,
            curves=json.loads(text),
        )
        self.registry.upsert(row)
        return VersionRecord.from_row(self.root, row)

    def fail(self, handle: VersionHandle, reason: str) -> None:
        """Mark a reserved version failed (it stays on disk, incomplete, for inspection)."""
        status = self._reserved_status(handle)
        write_status(
            handle.path,
            STATE_FAILED,
            identifier=handle.identifier,
            version=handle.version,
            created_at=status.get("created_at"),
            reason=str(reason),
        )
        self.storage.upload(handle.path, [STATUS_FILE])
        created = dt.datetime.fromisoformat(status.get("created_at") or _now().isoformat())
        self.registry.upsert(self.row(handle.key, handle.version, STATE_FAILED, created))

    # -- reading -------------------------------------------------------------------------
    def list(
        self, *, identifier: str | None = None, model_type: str | None = None, status: str | None = None
    ) -> list[VersionRecord]:
        """Versions matching the filters (``None``: any), by identifier then version; curves not loaded.
        A commit killed while indexing is settled here (see ``settled``)."""
        # a reserved row may turn out complete on disk: those are read with the status filter applied after
        asked = None if status in (STATE_COMPLETE, STATE_RESERVED, STATE_TAMPERED) else status
        rows = settled(self, self.registry.select(model_identifier=identifier, model_type=model_type, status=asked,
                                                  root=self.reading_root()))
        return [VersionRecord.from_row(self.root, r) for r in rows if status is None or r["status"] == status]

    def get(self, identifier: str, version: int | str = "latest") -> VersionRecord:
        """One version (any status), or with ``"latest"`` the highest complete one."""
        ModelKey.parse(identifier)  # a clear error for a malformed identifier
        if version == "latest":
            complete = self.list(identifier=identifier, status=STATE_COMPLETE)
            if not complete:
                raise VersionNotFoundError(f"{identifier} has no complete version; see `curvewatch versions list`.")
            version = complete[-1].version
        row = self.registry.get(identifier, validate_version(version), root=self.reading_root())
        if row is None:
            raise VersionNotFoundError.of(identifier, version)
        row = settled(self, [row])[0]
        if row["status"] == STATE_COMPLETE:  # a URL root: this host's copy, fetched when missing or stale
            self.checkout(ModelKey.parse(identifier), row["version"], digest=row.get("manifest_sha256"))
        return VersionRecord.from_row(self.root, row)

    def checkout(self, key: ModelKey, version: int, *, fresh: bool = False, digest: str | None = None) -> Path:
        """The local directory of a version, holding the stored files (a local root: as it is; a URL root:
        downloaded when ``fresh``, missing, or not complete with manifest ``digest``)."""
        directory = archive_path(self.root, key, version)
        if self.storage.checkout(directory, fresh=fresh, digest=digest) and directory.is_dir():
            with self.versions.lock():  # this host's versions.json mirrors what it has seen
                try:
                    mapping = self.versions.read()
                except ArchiveError:
                    mapping = {}
                if mapping.get(key.identifier, 0) < version:
                    self.versions.write({**mapping, key.identifier: version})
        return directory

    def best(self, metric: str = "val_loss", mode: str = "min", **filters: Any) -> VersionRecord:
        """The complete version whose ``metrics_summary[metric]`` is best (finite values only)."""
        if mode not in _BEST_MODES:
            raise ValueError(f"`mode` can be {', '.join(_BEST_MODES)}, got {mode!r}.")
        best: VersionRecord | None = None
        for record in self.list(status=STATE_COMPLETE, **filters):
            value = record.metrics_summary.get(metric)
            if isinstance(value, (int, float)) and math.isfinite(value):
                if best is None or _BEST_MODES[mode](value, best.metrics_summary[metric]):
                    best = record
        if best is None:
            raise VersionNotFoundError(f"No complete version has a finite {metric!r} in its metrics summary.")
        return best

    def verify(self, identifier: str, version: int | str = "latest") -> list[str]:
        """Every problem found in one version (empty list: intact); see ``exporter.archive.verify``."""
        return verify_version(self, identifier, version)

    def rebuild(self) -> RebuildResult:
        """Reconstruct ``versions.json`` and the table from the directory tree."""
        return rebuild(self)

    def delete(self, identifier: str, version: int, force: bool = False) -> None:
        """Remove one version's directory and row consistently; a reserved one needs ``force``."""
        delete_version(self, ModelKey.parse(identifier), version, force)

    def close(self) -> None:
        """Release database connections."""
        self.registry.dispose()

    def __enter__(self) -> ModelArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
