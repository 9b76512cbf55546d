"""``verify``: every way a version differs from what its commit recorded, each as one sentence.

Checks, all of them every time (nothing stops at the first problem): the status marker says complete;
the manifest's own digest matches the marker's and the row's; every file's SHA-256 matches the
manifest, none is missing or added; ``curves.json`` is valid against the curves schema;
``metadata.json`` is JSON naming this version; ``status.json`` names this identifier and version; the
``model_versions`` row exists, agrees with the directory and belongs to this root; ``versions.json`` is
readable and not behind this version. Every file is read with the bounded strict JSON reader, so a
hostile file is one more problem in the list, never an exception.
"""

from __future__ import annotations

from typing import Any

from curvewatch._json_reader import JSONReadError, read_json_file

from ._parts import ArchiveParts
from .errors import ArchiveError, VersionNotFoundError
from .manifest import check_manifest
from .naming import (
    CURVES_FILE,
    METADATA_FILE,
    STATE_COMPLETE,
    STATE_TAMPERED,
    STATUS_FILE,
    ModelKey,
    validate_version,
)
from .status import read_status

__all__ = ["resolve_version", "verify_version"]


def resolve_version(archive: ArchiveParts, key: ModelKey, version: int | str) -> int:
    """``version`` as an int; ``"latest"`` is the latest complete version in the registry, else on disk."""
    if version != "latest":
        return validate_version(version)
    try:
        return archive.get(key.identifier, "latest").version
    except VersionNotFoundError:
        latest = archive.versions.highest_on_disk(key)
        if latest == 0:
            raise
        return latest


def _check_curves(directory: Any) -> tuple[list[str], Any]:
    from curvewatch.recorder import CurveDocumentError, validate_document

    try:
        obj = read_json_file(directory / CURVES_FILE)
    except FileNotFoundError:
        return [f"{CURVES_FILE} is missing"], None
    except JSONReadError as exc:
        return [f"{CURVES_FILE} is not valid JSON: {exc}"], None
    try:
        validate_document(obj)
    except (CurveDocumentError, KeyError, TypeError) as exc:
        return [f"{CURVES_FILE} does not match the curves schema: {exc}"], obj
    return [], obj


def _check_metadata(directory: Any, key: ModelKey, version: int) -> list[str]:
    try:
        meta = read_json_file(directory / METADATA_FILE)
    except FileNotFoundError:
        return [f"{METADATA_FILE} is missing"]
    except JSONReadError as exc:
        return [f"{METADATA_FILE} is not valid JSON: {exc}"]
    info = meta.get("archive") if isinstance(meta, dict) else None
    if not isinstance(info, dict) or info.get("identifier") != key.identifier or info.get("version") != version:
        return [f"{METADATA_FILE} does not name {key.identifier} version {version} in its 'archive' section"]
    return []


def _check_status(status: dict[str, Any], key: ModelKey, version: int) -> list[str]:
    if "problem" in status:
        return []  # reported as "not complete" with the reason
    if status.get("identifier") != key.identifier or status.get("version") != version:
        return [f"{STATUS_FILE} does not name {key.identifier} version {version}"]
    return []


def _check_row(
    row: dict[str, Any] | None, status: dict[str, Any], rel: str, curves: Any, root_id: str | None
) -> list[str]:
    fix = "run `curvewatch versions rebuild` to re-index it from the directory"
    if row is None:
        return [f"the model_versions table has no row for this version; {fix}"]
    problems = []
    if row.get("archive_root") not in (None, root_id):
        problems.append("the table's row was written by another archive root sharing this registry")
    if row["status"] != status["state"] and (row["status"], status["state"]) != (STATE_TAMPERED, STATE_COMPLETE):
        problems.append(f"the table says {row['status']!r} but the directory says {status['state']!r}; {fix}")
    if row["model_path"] != rel:
        problems.append(f"the table's model_path is {row['model_path']!r}, expected {rel!r}")
    if status["state"] == STATE_COMPLETE:
        if row.get("manifest_sha256") != status.get("manifest_sha256"):
            problems.append("the table's manifest_sha256 differs from the status marker's")
        if curves is not None and row.get("curves") != curves:
            problems.append(f"the table's curves differ from {CURVES_FILE}")
    return problems


def verify_version(archive: ArchiveParts, identifier: str, version: int | str = "latest") -> list[str]:
    """Every problem of one version (empty list: intact and consistently indexed)."""
    key = ModelKey.parse(identifier)
    version = resolve_version(archive, key, version)
    directory = archive.checkout(key, version, fresh=True)  # a URL root: exactly what the store holds now
    rel = directory.relative_to(archive.root).as_posix()
    row = archive.registry.get(identifier, version, root=archive.reading_root())
    if not directory.is_dir():
        if row is None:
            raise VersionNotFoundError.of(identifier, version)
        return [
            f"the directory {rel} is missing but the table has a row; restore it or run "
            f"`curvewatch versions delete {identifier} {version}`"
        ]
    status = read_status(directory)
    problems = []
    if status["state"] != STATE_COMPLETE:
        why = status.get("reason") or status.get("problem")
        problems.append(f"the version is {status['state']}, not complete" + (f" ({why})" if why else ""))
    problems += check_manifest(directory, status.get("manifest_sha256") or (row or {}).get("manifest_sha256"))
    curve_problems, curves = _check_curves(directory)
    problems += curve_problems + _check_metadata(directory, key, version) + _check_status(status, key, version)
    problems += _check_row(row, status, rel, curves, archive.versions.root_id())
    try:
        latest = archive.versions.read().get(identifier, 0)
        if latest < version:
            problems.append(f"versions.json says the latest version is {latest}; run `curvewatch versions rebuild`")
    except ArchiveError as exc:
        problems.append(str(exc))
    return problems
