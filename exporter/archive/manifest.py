"""The manifest of a version: the SHA-256 of every file in it, and the check that recomputes them.

Every regular file of the version directory is listed (checkpoints included) except the manifest
itself, the status marker and temporary files. The manifest's own digest is kept in the status marker
and the registry row, so a changed manifest is detected too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json, is_temp_name, sha256_file, strict_json
from .errors import VersionStateError
from .naming import MANIFEST_FILE, STATUS_FILE

__all__ = ["ALGORITHM", "check_manifest", "list_payload_files", "remove_temp_files", "write_manifest"]

ALGORITHM = "sha256"
_EXCLUDED = frozenset({MANIFEST_FILE, STATUS_FILE})


def list_payload_files(directory: Path) -> list[str]:
    """Relative (``/``-separated) names of the files a manifest covers, sorted (everything but the
    manifest and the status marker: a file added after commit, even a temporary one, is reported)."""
    names = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() or path.is_symlink():
            rel = path.relative_to(directory).as_posix()
            if rel not in _EXCLUDED:
                names.append(rel)
    return names


def remove_temp_files(directory: Path) -> list[str]:
    """Delete temporary files left by interrupted writes; return their names."""
    removed = []
    for path in sorted(directory.rglob(".*")):
        if path.is_file() and is_temp_name(path.name):
            path.unlink()
            removed.append(path.relative_to(directory).as_posix())
    return removed


def write_manifest(directory: Path) -> str:
    """Write the manifest of ``directory`` atomically; return the SHA-256 of its bytes."""
    links = [p.name for p in directory.rglob("*") if p.is_symlink()]
    if links:
        raise VersionStateError(f"{directory} holds symbolic links ({', '.join(links)}); save regular files.")
    manifest = {
        "algorithm": ALGORITHM,
        "files": {n: sha256_file(directory / n) for n in list_payload_files(directory)},
    }
    atomic_write_json(directory / MANIFEST_FILE, manifest)
    return hashlib.sha256(strict_json(manifest).encode("utf-8")).hexdigest()


def _read(directory: Path) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    path = directory / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None, [f"{MANIFEST_FILE} is missing"]
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return None, hashlib.sha256(raw).hexdigest(), [f"{MANIFEST_FILE} is not valid JSON ({exc})"]
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or data.get("algorithm") != ALGORITHM:
        return None, hashlib.sha256(raw).hexdigest(), [f"{MANIFEST_FILE} has no {ALGORITHM} file list"]
    return data, hashlib.sha256(raw).hexdigest(), []


def check_manifest(directory: Path, expected_sha256: str | None) -> list[str]:
    """Every mismatch between ``directory`` and its manifest (empty list: all files intact)."""
    manifest, digest, problems = _read(directory)
    if expected_sha256 and digest and digest != expected_sha256:
        problems.append(f"{MANIFEST_FILE} was changed: its SHA-256 is {digest}, recorded {expected_sha256}")
    if manifest is None:
        return problems
    listed: dict[str, str] = manifest["files"]
    present = set(list_payload_files(directory))
    for name in sorted(listed):
        if name not in present:
            problems.append(f"{name} is missing")
        elif (directory / name).is_symlink():
            problems.append(f"{name} was replaced by a symbolic link")
        elif (actual := sha256_file(directory / name)) != listed[name]:
            problems.append(f"{name} was changed: its SHA-256 is {actual}, the manifest says {listed[name]}")
    for name in sorted(present - set(listed)):
        problems.append(f"{name} is not in the manifest (added after commit)")
    return problems
