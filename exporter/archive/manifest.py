"""The manifest of a version: the SHA-256 of every file in it, and the check that recomputes them.

Every regular file of the version directory is listed (checkpoints included) except the manifest
itself, the status marker and temporary files. The manifest's own digest is kept in the status marker
and the registry row, so a changed manifest is detected too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from curvewatch._json_reader import JSONReadError, loads_strict

from .atomic import atomic_write_json, is_temp_name, sha256_file, strict_json
from .errors import VersionStateError
from .naming import MANIFEST_FILE, STATUS_FILE

__all__ = [
    "ALGORITHM",
    "check_file",
    "check_manifest",
    "list_payload_files",
    "remove_temp_files",
    "write_manifest",
]

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
    except OSError as exc:
        return None, None, [f"{MANIFEST_FILE} cannot be read ({exc.strerror or exc})"]
    try:
        data = loads_strict(raw)
    except JSONReadError as exc:
        return None, hashlib.sha256(raw).hexdigest(), [f"{MANIFEST_FILE} is not valid JSON ({exc})"]
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(files, dict)
        or data.get("algorithm") != ALGORITHM
        or not all(isinstance(v, str) for v in files.values())
    ):
        return None, hashlib.sha256(raw).hexdigest(), [f"{MANIFEST_FILE} has no {ALGORITHM} file list"]
    return data, hashlib.sha256(raw).hexdigest(), []


def check_file(directory: Path, name: str, expected_sha256: str | None) -> str | None:
    """Why ``directory/name`` cannot be trusted (``None``: its SHA-256 is the manifest's, and the manifest's
    own digest is ``expected_sha256``, the one the status marker recorded at commit).

    Used before ``torch.load``; a version without a manifest, or whose marker records no digest, has
    nothing to trust, which is a reason too.
    """
    manifest, digest, problems = _read(directory)
    if problems:
        return problems[0]
    if not expected_sha256:
        return "the status marker records no manifest digest (the version was never committed)"
    if digest != expected_sha256:
        return f"{MANIFEST_FILE} was changed after commit (its SHA-256 is not the one the status marker recorded)"
    listed = (manifest or {})["files"].get(name)
    if listed is None:
        return f"{name} is not in {MANIFEST_FILE} (added after commit)"
    path = directory / name
    if path.is_symlink() or not path.is_file():
        return f"{name} is missing or not a regular file"
    if sha256_file(path) != listed:
        return f"{name} was changed after commit (its SHA-256 differs from {MANIFEST_FILE})"
    return None


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
