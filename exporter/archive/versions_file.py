"""``versions.json``: identifier -> latest version, changed only inside a ``filelock.FileLock``.

Guarantees (tests named after them in tests/test_archive_*.py):
- concurrent_allocations_never_share_a_version: the read-increment-write of a reservation (and the
  creation of the reserved ``v{N}`` directory, and the archive's reserved row) happens entirely inside
  the lock.
- killed_commit_leaves_version_incomplete (versions.json stays valid): the file is replaced with
  ``os.replace``; a crash leaves the old or the new one.
- corrupt_or_missing_versions_json_is_detected_and_rebuild_restores_it: an unreadable file, or a
  missing one in a non-empty archive, raises ``RegistryCorruptError`` naming the command that restores it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import filelock

from .atomic import atomic_write_json
from .errors import RegistryCorruptError, VersionStateError
from .naming import (
    LAYOUT_DIRS,
    LOCK_SUFFIX,
    STARTING_VERSION,
    STATE_RESERVED,
    VERSIONS_FILE,
    ModelKey,
    archive_path,
    parse_version_dir,
)
from .status import write_status

__all__ = ["VersionsFile"]

DEFAULT_LOCK_TIMEOUT_S = 120.0


class VersionsFile:
    """The ``versions.json`` of one archive root.

    >>> vf = VersionsFile("saved_models")
    >>> vf.reserve(ModelKey.product("P001", model_type="mlstm"))   # creates .../v1, returns 1
    """

    def __init__(self, root: str | os.PathLike[str], lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S) -> None:
        self.root = Path(root).absolute()
        self.path = archive_path(self.root, filename=VERSIONS_FILE)
        self.lock_path = archive_path(self.root, filename=VERSIONS_FILE + LOCK_SUFFIX)
        self.lock_timeout = lock_timeout

    def lock(self) -> filelock.BaseFileLock:
        """The lock that guards ``versions.json`` (hold it for any read-modify-write)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(self.lock_path, timeout=self.lock_timeout)

    def _archive_has_models(self) -> bool:
        return any((self.root / top).is_dir() for top in LAYOUT_DIRS)

    def read(self) -> dict[str, int]:
        """The mapping; ``{}`` for a new archive. Raises ``RegistryCorruptError`` if corrupt or missing."""
        rebuild = f"run `curvewatch versions rebuild --root {self.root}` to rebuild it from the directories"
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if self._archive_has_models():
                raise RegistryCorruptError(f"{self.path} is missing but the archive has models; {rebuild}.") from None
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryCorruptError(f"{self.path} cannot be read ({exc}); {rebuild}.") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RegistryCorruptError(f"{self.path} is not valid JSON ({exc}); {rebuild}.") from exc
        if not isinstance(data, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= STARTING_VERSION for v in data.values()
        ):
            raise RegistryCorruptError(
                f"{self.path} must map identifiers to versions (integers >= {STARTING_VERSION}); {rebuild}."
            )
        return data

    def write(self, mapping: dict[str, int]) -> None:
        """Replace the file with ``mapping`` (call with the lock held)."""
        atomic_write_json(self.path, dict(sorted(mapping.items())))

    def reserve(self, key: ModelKey, on_reserved: Callable[[int], None] | None = None, **status_info: Any) -> int:
        """Reserve the next version of ``key``: create ``v{N}`` marked reserved and record ``N`` as latest.

        ``N`` is one more than the larger of ``versions.json``'s entry and the highest ``v{N}`` on disk,
        so a stale file never hands out a directory that already exists. ``on_reserved(N)`` runs before
        the lock is released (the archive indexes the reserved row there, so a concurrent ``rebuild``,
        which replaces the table under the same lock, sees the version or its row, never neither).
        """
        with self.lock():
            mapping = self.read()
            latest = max(mapping.get(key.identifier, 0), self.highest_on_disk(key))
            version = latest + 1
            directory = archive_path(self.root, key, version)
            directory.parent.mkdir(parents=True, exist_ok=True)
            try:
                directory.mkdir()
            except FileExistsError as exc:  # only if someone wrote into the archive without the lock
                raise VersionStateError(f"{directory} already exists; run `curvewatch versions rebuild`.") from exc
            write_status(directory, STATE_RESERVED, identifier=key.identifier, version=version, **status_info)
            mapping[key.identifier] = version
            self.write(mapping)
            if on_reserved is not None:
                on_reserved(version)
            return version

    def highest_on_disk(self, key: ModelKey) -> int:
        """The highest ``N`` with a ``v{N}`` directory for ``key`` (0 if none)."""
        try:
            names = os.listdir(archive_path(self.root, key))
        except FileNotFoundError:
            return 0
        return max((v for v in map(parse_version_dir, names) if v is not None), default=0)
