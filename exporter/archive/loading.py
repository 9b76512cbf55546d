"""Load a committed model (or a checkpoint) after checking it is the file the commit recorded.

Guarantees (tests named after them in ``tests/test_hardening_trust.py``):
- tampered_model_is_refused_before_torch_load: ``load_model`` checks ``model.pth`` and ``metadata.json``
  against the manifest (whose own SHA-256 the status marker recorded) before ``torch.load`` runs;
  ``verify=False`` (``--no-verify``) skips that, for experts.
- every_load_error_is_an_archive_error: a missing, truncated or non-weights file, or unreadable metadata,
  raises an ``ArchiveError`` whose message says what to do; ``torch.load`` always uses
  ``weights_only=True`` (no pickle code runs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curvewatch._json_reader import JSONReadError, read_json_file

from .errors import ArchiveError, ManifestMismatchError, VersionNotFoundError, VersionStateError
from .manifest import check_file
from .naming import MANIFEST_FILE, METADATA_FILE, MODEL_FILE, STATE_COMPLETE
from .status import read_status

__all__ = ["load_model", "load_verified"]

_NO_VERIFY_HINT = "pass --no-verify (verify=False) only if you trust the file as it is"


def load_verified(path: str | os.PathLike[str], *, verify: bool = True, required: bool = True) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, after checking ``path`` against its version's
    manifest. With ``required=False`` a file in a directory that has no manifest yet (a checkpoint of a
    run that never committed) is loaded unchecked: nothing recorded its digest."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise VersionNotFoundError(f"{path} does not exist; pass a file of a version (`curvewatch versions list`).")
    if verify and (required or (path.parent / MANIFEST_FILE).exists()):
        problem = check_file(path.parent, path.name, read_status(path.parent).get("manifest_sha256"))
        if problem is not None:
            raise ManifestMismatchError(
                f"Refusing to load {path}: {problem}. Run `curvewatch versions verify` on its version; "
                f"{_NO_VERIFY_HINT}."
            )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, EOFError, ...: the file is no weights file
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ArchiveError(
            f"{path} cannot be loaded as saved weights ({reason}); restore it or train again."
        ) from None


def load_model(
    version_path: str | os.PathLike[str], *, require_complete: bool = True, verify: bool = True
) -> tuple[Any, dict]:
    """``(state_dict, metadata)`` of a version directory.

    ``model.pth`` is read with ``torch.load(weights_only=True)`` (tensors and plain containers only),
    onto the CPU, once it and ``metadata.json`` match the manifest (unless ``verify=False``);
    ``metadata.json`` (parameters, scaler, metrics as plain numbers) with the strict JSON reader.
    """
    directory = Path(version_path)
    if not directory.is_dir():
        raise VersionNotFoundError(f"{directory} is not a version directory; see `curvewatch versions list`.")
    if require_complete:
        status = read_status(directory)
        if status["state"] != STATE_COMPLETE:
            raise VersionStateError(
                f"{directory} is {status['state']}, not complete; load a complete version "
                "(`curvewatch versions list --status complete`)."
            )
    if verify:
        problem = check_file(directory, METADATA_FILE, read_status(directory).get("manifest_sha256"))
        if problem is not None:
            raise ManifestMismatchError(f"Refusing to load {directory}: {problem}. Run `curvewatch versions verify` "
                                 f"on it; {_NO_VERIFY_HINT}.")
    state_dict = load_verified(directory / MODEL_FILE, verify=verify)
    try:
        metadata = read_json_file(directory / METADATA_FILE)
    except (FileNotFoundError, JSONReadError) as exc:
        raise ArchiveError(f"{directory / METADATA_FILE} cannot be read ({exc}); restore it from a backup.") from None
    if not isinstance(metadata, dict):
        raise ArchiveError(f"{directory / METADATA_FILE} is not a JSON object; restore it from a backup.")
    return state_dict, metadata
