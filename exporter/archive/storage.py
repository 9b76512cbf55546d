"""Where an archive's files live: a local directory, or a URL root (``s3://bucket/prefix``, any fsspec
protocol) that this host mirrors in a local cache. The one place the two differ.

The archive always reads and writes a local directory (``ModelArchive.root``). For a local root that
directory *is* the storage and every hook here does nothing; for a URL root it is this host's cache
(``$CURVEWATCH_CACHE_DIR/{root id}``) and ``RemoteStorage`` moves version directories between it and the
object store: ``upload`` after the archive wrote a file, ``checkout`` before it reads one, ``remove`` with
``delete``. The registry stays the index and the only allocator (S3 has no lock), so nothing on the hot
path lists the bucket.

Guarantees (tests named after them in ``tests/test_archive_s3*.py``):
- a_url_root_needs_a_registry_transaction: a URL root without ``db_url`` (a SQLite file next to the root
  would sit on the object store) is an ``ArchiveError`` saying why (S3 has no lock) and what to pass.
- credentials_never_go_into_a_root_url: a root URL with userinfo is refused (credentials come from the
  S3 client's environment or profile chain); every URL or error text shown is passed through
  ``redact_url``, so an endpoint URL with userinfo appears as ``***@host``.
- a_url_root_has_one_id_on_every_host: the root id is a digest of the canonical URL, so every host that
  opens the same bucket and prefix reads and writes the same rows of a shared registry.
- a_version_url_is_read_from_its_local_copy: ``local_copy`` turns the URL of a version directory (or of a
  file in one) into the path of this host's copy, laid out as in the store (so ``serve`` still names the
  run), for the commands that take a version path (``predict``, ``serve``, ``serve-model``).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from .errors import ArchiveError
from .status import read_status

__all__ = ["LocalStorage", "Storage", "local_copy", "open_storage", "redact_url", "root_url"]

# a scheme of two letters or more (so ``C:/...`` stays a path); one slash too, as ``Path("s3://b/p")`` prints
_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")
_USERINFO_RE = re.compile(r"(?<=//)[^/@\s\"'<>]+@")


def root_url(root: object) -> str | None:
    """The canonical URL of a URL root (``s3://bucket/prefix``, no trailing ``/``), or ``None`` for a local path
    (``file://`` URLs included: they are local paths)."""
    match = _URL_RE.match(os.fspath(root) if isinstance(root, os.PathLike) else str(root))
    if match is None or match.group(1).lower() == "file":
        return None
    return f"{match.group(1).lower()}://{match.group(2).rstrip('/')}"


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***`` (``http://k:s@h`` -> ``http://***@h``)."""
    return _USERINFO_RE.sub("***@", str(text))


class Storage(Protocol):
    """What the archive asks of where its files live (``LocalStorage`` or ``RemoteStorage``)."""

    remote: bool
    local_root: Path  # the directory the archive reads and writes
    shown: str  # the root as messages show it (no secret)

    def upload(self, directory: Path, names: Iterable[str]) -> None:
        """Store these files of a version directory (written locally first), in this order."""

    def read_state(self, directory: Path) -> dict[str, Any]:
        """The status marker of a version as the storage holds it (see ``status.read_status``)."""

    def checkout(self, directory: Path, *, fresh: bool = False, digest: str | None = None) -> bool:
        """Make ``directory`` hold the version as stored (``fresh``: always fetch; else only when the local
        copy is not complete with manifest ``digest``); ``True`` when it fetched."""

    def names(self, directory: Path) -> list[str]:
        """The file names the storage holds directly in a version (one LIST on a URL root)."""

    def fetch(self, directory: Path, names: Iterable[str]) -> None:
        """Bring these stored files of a version into ``directory`` where this host has no copy of them."""

    def version_dirs(self) -> list[Path]:
        """The local directories of every version the storage holds (rebuild's scan; lists everything)."""

    def exists(self, directory: Path) -> bool:
        """Whether the storage holds anything of this version."""

    def unlist(self, directory: Path) -> None:
        """Make the version stop looking like one (its status marker goes first), before its row is deleted."""

    def remove(self, directory: Path) -> None:
        """Delete every stored file of the version."""


class LocalStorage:
    """A local root: the archive's directory is the storage, so every hook is a no-op."""

    remote = False

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.local_root = Path(root).absolute()
        self.shown = str(self.local_root)

    def upload(self, directory: Path, names: Iterable[str]) -> None:
        """Nothing to do: the files are written in place."""

    def read_state(self, directory: Path) -> dict[str, Any]:
        """The local marker."""
        return read_status(directory)

    def checkout(self, directory: Path, *, fresh: bool = False, digest: str | None = None) -> bool:
        """Nothing to fetch."""
        return False

    def names(self, directory: Path) -> list[str]:
        """The files in the version directory."""
        return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []

    def fetch(self, directory: Path, names: Iterable[str]) -> None:
        """Nothing to fetch."""

    def version_dirs(self) -> list[Path]:
        """Rebuild scans the directory itself."""
        return []

    def exists(self, directory: Path) -> bool:
        """Whether the version directory exists."""
        return directory.is_dir()

    def unlist(self, directory: Path) -> None:
        """Nothing: ``delete`` renames the directory out of the layout."""

    def remove(self, directory: Path) -> None:
        """Nothing: ``delete`` removes the renamed directory."""


def url_root_id(url: str) -> str:
    """The id of a URL root: the same on every host that opens it (32 hex digits, like a local root's)."""
    return hashlib.sha256(f"curvewatch-root:{url}".encode()).hexdigest()[:32]


def open_storage(root: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None, db_url: str | None) -> Any:
    """``LocalStorage`` for a path; ``RemoteStorage`` (cached under ``cache_dir``) for a URL, which needs a
    registry transaction (``db_url``) to allocate in."""
    url = root_url(root)
    if url is None:
        text = os.fspath(root) if isinstance(root, os.PathLike) else str(root)
        return LocalStorage(text[len("file://"):] if text.lower().startswith("file://") else text)
    if urllib.parse.urlsplit(url).username is not None or "@" in urllib.parse.urlsplit(url).netloc:
        raise ArchiveError(f"The archive root {redact_url(url)} holds credentials; remove them from the URL and let "
                           "the S3 client find them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or "
                           "an instance role).")
    if db_url is None:
        raise ArchiveError(f"The archive root {url} is on object storage, which has no lock, so its versions can "
                           "only be allocated in a registry transaction: pass --db-url postgresql+psycopg://... "
                           "($CURVEWATCH_DB_URL) for a registry shared by every host (a versions.json or "
                           "SQLite file on the object store is refused).")
    from curvewatch.archive.settings import default_cache_dir

    from ._remote import RemoteStorage

    base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return RemoteStorage(url, base.absolute() / url_root_id(url), url_root_id(url))


def local_copy(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``path`` itself when it is local; the URL of a version directory (``s3://b/models/product/P001_all/tcn/v3``)
    or of a file in one (``.../v3/curves.json``): this host's copy of that version, downloaded now, and
    the same path inside it. Loading it still checks every file against the version's manifest."""
    from .naming import ModelKey, parse_version_dir

    url = root_url(path)
    if url is None:
        return Path(path)
    if "@" in urllib.parse.urlsplit(url).netloc:
        raise ArchiveError(f"The URL {redact_url(url)} holds credentials; remove them and let the S3 client find "
                           "them (environment or profile).")
    scheme, rest = url.split("://", 1)
    parts = rest.split("/")
    last = next((i for i in range(len(parts) - 1, 0, -1) if parse_version_dir(parts[i]) is not None), None)
    for start in range(1, last or 0):
        try:
            ModelKey.from_relative_dir("/".join(parts[start:last]))
        except ValueError:
            continue
        from curvewatch.archive.settings import default_cache_dir

        from ._remote import RemoteStorage

        root = f"{scheme}://{'/'.join(parts[:start])}"
        base = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        storage = RemoteStorage(root, base.absolute() / url_root_id(root), url_root_id(root))
        directory = storage.local_root.joinpath(*parts[start : last + 1])
        storage.checkout(directory, fresh=True)
        return directory.joinpath(*parts[last + 1:])
    raise ArchiveError(f"{url} is not a version of an archive (ROOT/{{key directory}}/v{{N}}[/FILE]); give "
                       "the URL of a version directory, e.g. s3://bucket/models/product/P001_all/tcn/v3.")
