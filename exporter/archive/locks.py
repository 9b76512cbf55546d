"""Holding a file lock of the archive (``versions.json.lock``, the SQLite registry's lock) with errors as sentences.

Guarantees (tests named after them in tests/test_hardening_trust.py and tests/test_hardening_read_only.py):
- a_symlinked_lock_is_refused_with_a_sentence: a lock file that is a symbolic link (a loop included) is
  an ``ArchiveError`` naming it, never an ``OSError`` traceback.
- writing_a_read_only_archive_is_a_sentence: a lock on a read-only file system is an
  ``ArchiveError`` saying that the command writes and which commands only read.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from .errors import ArchiveError

__all__ = ["READ_ONLY_COMMANDS", "held"]

READ_ONLY_COMMANDS = "versions list/show/verify, report, compare and serve"


@contextmanager
def held(lock: filelock.BaseFileLock, path: Path, timeout: float) -> Iterator[filelock.BaseFileLock]:
    """Acquire ``lock`` (whose file is ``path``) for the block; every failure is an ``ArchiveError``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            raise OSError(f"{path.name} is a symbolic link")
        lock.acquire()
    except filelock.Timeout:
        raise ArchiveError(f"{path} is held by another process for more than {timeout:g} s; "
                           "wait for it to finish, or stop it.") from None
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise ArchiveError(f"{path.parent} is on a read-only file system and this command writes; run it on a "
                               f"writable copy (on a read-only archive, {READ_ONLY_COMMANDS} work).") from None
        raise ArchiveError(f"Cannot take the archive lock {path} ({exc.strerror or exc}); make it a "
                           "regular file the archive can write, or remove it.") from None
    try:
        yield lock
    finally:
        lock.release()
