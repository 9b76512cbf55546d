"""``versions.json``: identifier -> latest version, changed only inside a ``filelock.FileLock``.

Guarantees (tests named after them in tests/test_archive_*.py):
- concurrent_allocations_never_share_a_version: the read-increment-write of a reservation (and the
  creation of the reserved ``v{N}`` directory, and the archive's reserved row) happens entirely inside
  the lock.
- killed_commit_leaves_version_incomplete (versions.json stays valid): the file is replaced with
  ``os.replace``; a crash leaves the old or the new one.
- corrupt_or_missing_versions_json_is_detected_and_rebuild_restores_it: an unreadable file, or a
  missing one in a non-empty archive, raises ``RegistryCorruptError`` naming the command that restores it.
- versions_past_the_nine_digit_pattern_are_refused: an entry above ``MAX_VERSION`` is a corrupt file, and
  an identifier at ``MAX_VERSION`` gets no next version; nothing is written before the number is checked.

The file is the per-root mirror of the registry: with a PostgreSQL registry shared by several roots, the
registry decides the number (see ``Registry.allocate``) and this file records it afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock
from curvewatch._json_reader import JSONReadError, read_json_file

from .atomic import atomic_write_bytes, atomic_write_json
from .errors import RegistryCorruptError, VersionStateError
from .locks import held
from .naming import (
    LAYOUT_DIRS,
    LOCK_SUFFIX,
    MAX_VERSION,
    ROOT_ID_FILE,
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

    def __init__(self, root: str | os.PathLike[str], lock_timeout: float = DEFAULT_LOCK_TIMEOUT_S,
                 cache: bool = False) -> None:
        self.root = Path(root).absolute()
        # a URL root's cache holds only the versions this host read or wrote: a missing file is no damage there
        # (the registry allocates; the file only floors it on this host)
        self.cache = cache
        self.path = archive_path(self.root, filename=VERSIONS_FILE)
        # not archive_path: a symlinked lock must reach lock(), which refuses it with a sentence
        self.lock_path = self.root / (VERSIONS_FILE + LOCK_SUFFIX)
        self.lock_timeout = lock_timeout
        self._lock = filelock.FileLock(self.lock_path, timeout=lock_timeout)  # re-entrant in one thread

    @contextmanager
    def lock(self) -> Iterator[filelock.BaseFileLock]:
        """Hold the lock that guards ``versions.json`` (for any read-modify-write); errors are sentences."""
        with held(self._lock, self.lock_path, self.lock_timeout) as lock:
            yield lock

    def root_id(self, create: bool = False) -> str | None:
        """The root's id (``archive_id`` file), created with ``create`` (hold the lock); ``None`` if absent."""
        path = archive_path(self.root, filename=ROOT_ID_FILE)
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            if not create:
                return None
            text = secrets.token_hex(16)
            atomic_write_bytes(path, (text + "\n").encode("ascii"))
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryCorruptError(f"{path} cannot be read ({exc}); delete it and run "
                                       "`curvewatch versions rebuild` to give the root a new id.") from None
        if len(text) != 32 or not all(c in "0123456789abcdef" for c in text):
            raise RegistryCorruptError(f"{path} does not hold a root id; delete it and run "
                                       "`curvewatch versions rebuild` to give the root a new id.")
        return text

    def _archive_has_models(self) -> bool:
        return any((self.root / top).is_dir() for top in LAYOUT_DIRS)

    def read(self) -> dict[str, int]:
        """The mapping; ``{}`` for a new archive. Raises ``RegistryCorruptError`` if corrupt or missing."""
        rebuild = f"run `curvewatch versions rebuild --root {self.root}` to rebuild it from the directories"
        try:
            data = read_json_file(self.path)
        except FileNotFoundError:
            if not self.cache and self._archive_has_models():
                raise RegistryCorruptError(f"{self.path} is missing but the archive has models; {rebuild}.") from None
            return {}
        except JSONReadError as exc:
            raise RegistryCorruptError(f"{self.path} is not valid JSON: {exc}; {rebuild}.") from None
        if not isinstance(data, dict) or not all(
            type(v) is int and STARTING_VERSION <= v <= MAX_VERSION for v in data.values()
        ):
            raise RegistryCorruptError(
                f"{self.path} must map identifiers to versions (integers from {STARTING_VERSION} to "
                f"{MAX_VERSION}); {rebuild}."
            )
        return data

    def write(self, mapping: dict[str, int]) -> None:
        """Replace the file with ``mapping`` (call with the lock held)."""
        atomic_write_json(self.path, dict(sorted(mapping.items())))

    def reserve(
        self,
        key: ModelKey,
        allocate: Callable[[int], int] | None = None,
        release: Callable[[int], None] | None = None,
        **status_info: Any,
    ) -> int:
        """Reserve the next version of ``key``: create ``v{N}`` marked reserved and record ``N`` as latest.

        The floor is the larger of ``versions.json``'s entry and the highest ``v{N}`` on disk, so a stale
        file never hands out a directory that already exists. ``allocate(floor)`` (the registry, which
        inserts the reserved row) returns ``N``; without it ``N`` is ``floor + 1``. It runs while the lock
        is held, so a concurrent ``rebuild`` sees the version and its row, or neither. If the directory
        cannot be made, ``release(N)`` undoes the allocation.
        """
        with self.lock():
            mapping = self.read()
            floor = max(mapping.get(key.identifier, 0), self.highest_on_disk(key))
            if floor >= MAX_VERSION:
                raise VersionStateError(f"{key.identifier} has reached version {MAX_VERSION}, the highest the "
                                        "archive layout allows; archive new runs under another model type.")
            version = floor + 1 if allocate is None else allocate(floor)
            directory = archive_path(self.root, key, version)
            try:
                directory.parent.mkdir(parents=True, exist_ok=True)
                directory.mkdir()
                write_status(directory, STATE_RESERVED, identifier=key.identifier, version=version, **status_info)
                mapping[key.identifier] = version
                self.write(mapping)
            except BaseException as exc:
                if release is not None:
                    release(version)
                if isinstance(exc, FileExistsError):  # only if someone wrote into the archive without the lock
                    raise VersionStateError(f"{directory} already exists; run `curvewatch versions rebuild`.") from exc
                raise
            return version

    def highest_on_disk(self, key: ModelKey) -> int:
        """The highest ``N`` with a ``v{N}`` directory for ``key`` (0 if none)."""
        try:
            names = os.listdir(archive_path(self.root, key))
        except FileNotFoundError:
            return 0
        return max((v for v in map(parse_version_dir, names) if v is not None), default=0)
