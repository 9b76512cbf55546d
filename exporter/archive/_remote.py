"""``RemoteStorage``: a URL root through fsspec (s3fs for ``s3://``), mirrored in this host's cache directory.

Guarantees (tests named after them in ``tests/test_archive_s3*.py``):
- uploads_stream_from_disk: a file goes up through ``fs.open(key, "wb", block_size=UPLOAD_BLOCK_BYTES)``, fed
  ``COPY_CHUNK_BYTES`` at a time from the local file: a multipart upload holding about one part in memory,
  never a whole model (downloads likewise).
- checkout_mirrors_the_object_store: a checkout downloads exactly the objects under the version's prefix into
  a temporary sibling and swaps it in under the cache lock, so a changed, added or missing object shows in
  ``verify`` as a local file would; a local copy this host is still writing (reserved, not complete in the
  store) is never replaced.
- every_storage_error_is_a_sentence: a missing bucket, an unreachable endpoint or refused credentials raise an
  ``ArchiveError`` naming the root and what to check, with every URL in it redacted (``redact_url``).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock

from .atomic import atomic_write_bytes
from .errors import ArchiveError, IdentifierError
from .locks import held
from .naming import ROOT_ID_FILE, STATE_COMPLETE, STATE_RESERVED, STATUS_FILE, ModelKey, parse_version_dir
from .status import parse_status, read_status
from .storage import redact_url

__all__ = ["COPY_CHUNK_BYTES", "UPLOAD_BLOCK_BYTES", "RemoteStorage"]

UPLOAD_BLOCK_BYTES = 8 << 20  # one multipart part (S3's minimum is 5 MiB): what an upload holds in memory
COPY_CHUNK_BYTES = 1 << 20
_CACHE_LOCK = ".checkout.lock"
_CACHE_LOCK_TIMEOUT_S = 120.0
_ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


class RemoteStorage:
    """A URL root's objects, and this host's copy of them under ``local_root``.

    >>> storage = RemoteStorage("s3://models/team-a", Path("~/.cache/curvewatch/<id>"), "<id>")
    >>> storage.upload(version_dir, ["model.pth", "manifest.json"])   # then status.json, last
    """

    remote = True

    def __init__(self, url: str, local_root: Path, root_id: str) -> None:
        self.url = url
        self.shown = url
        self.local_root = local_root
        with self._errors("open"):
            import fsspec

            self.fs, self.base = fsspec.core.url_to_fs(url, skip_instance_cache=True)
        self.base = self.base.rstrip("/")
        try:
            local_root.mkdir(parents=True, exist_ok=True)
            if not (local_root / ROOT_ID_FILE).is_file():  # the cache's root id is the URL's (see storage.py)
                atomic_write_bytes(local_root / ROOT_ID_FILE, (root_id + "\n").encode("ascii"))
        except OSError as exc:
            raise ArchiveError(f"Cannot create the cache {local_root} of {url} ({exc.strerror or exc}); set "
                               "$CURVEWATCH_CACHE_DIR to a writable folder.") from None
        self._lock_path = local_root / _CACHE_LOCK
        self._lock = filelock.FileLock(self._lock_path, timeout=_CACHE_LOCK_TIMEOUT_S)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except ArchiveError:
            raise
        except ImportError as exc:
            raise ArchiveError(f"The archive root {self.url} needs fsspec and its driver ({exc.name or exc}); "
                               "pip install 'curvewatch[s3]'.") from None
        except Exception as exc:  # botocore, aiohttp and fsspec errors: one sentence, no secret
            text = str(exc).strip()
            reason = redact_url(text.splitlines()[0] if text else type(exc).__name__)[:300]
            endpoint = next((os.environ[e] for e in _ENDPOINT_ENVS if os.environ.get(e)), None)
            where = f" through {redact_url(endpoint)}" if endpoint else ""
            raise ArchiveError(f"Cannot {what} {self.url}{where} ({reason}); check that the bucket exists, the "
                               "endpoint is reachable and the S3 credentials (environment or profile) allow "
                               "it.") from None

    def _key(self, directory: Path, name: str | None = None) -> str:
        rel = directory.relative_to(self.local_root).as_posix()
        return "/".join(p for p in (self.base, "" if rel == "." else rel, name) if p)

    def _find(self, prefix: str) -> list[str]:
        self.fs.invalidate_cache()  # another host may have written since
        try:
            return sorted(self.fs.find(prefix))
        except FileNotFoundError:
            return []

    def upload(self, directory: Path, names: Iterable[str]) -> None:
        """Stream each local file up to its object, in order."""
        for name in names:
            with self._errors(f"upload {name} to"):
                with open(directory / name, "rb") as src, self.fs.open(
                    self._key(directory, name), "wb", block_size=UPLOAD_BLOCK_BYTES
                ) as dst:
                    shutil.copyfileobj(src, dst, COPY_CHUNK_BYTES)

    def read_state(self, directory: Path) -> dict[str, Any]:
        """The stored status marker (one GET)."""
        with self._errors("read a status marker of"):
            try:
                raw = self.fs.cat_file(self._key(directory, STATUS_FILE))
            except FileNotFoundError:
                raw = None
        return parse_status(raw)

    def checkout(self, directory: Path, *, fresh: bool = False, digest: str | None = None) -> bool:
        """Download the version's objects into ``directory`` unless the local copy is complete with ``digest``."""
        local = read_status(directory)
        if not fresh and digest and local["state"] == STATE_COMPLETE and local.get("manifest_sha256") == digest:
            return False
        if local["state"] == STATE_RESERVED and directory.is_dir() and "problem" not in local:
            if self.read_state(directory)["state"] != STATE_COMPLETE:
                return False  # this host may be writing it: its local files are the newest there are
        prefix = self._key(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f".{directory.name}.fetch-{secrets.token_hex(4)}")
        try:
            with self._errors(f"download {directory.relative_to(self.local_root).as_posix()} from"):
                keys = self._find(prefix)
                tmp.mkdir()
                for key in keys:
                    parts = key[len(prefix) + 1:].split("/")
                    if not key.startswith(prefix + "/") or any(p in ("", ".", "..") for p in parts):
                        continue  # not a file name the archive writes: never a path outside the version
                    (tmp.joinpath(*parts)).parent.mkdir(parents=True, exist_ok=True)
                    self._download(key, tmp.joinpath(*parts))
            self._swap(tmp, directory, present=bool(keys))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True

    def names(self, directory: Path) -> list[str]:
        """The file names stored directly under the version's prefix (one LIST)."""
        prefix = self._key(directory)
        with self._errors("list"):
            keys = self._find(prefix)
        names = (k[len(prefix) + 1:] for k in keys if k.startswith(prefix + "/"))
        return sorted(name for name in names if name and "/" not in name)

    def fetch(self, directory: Path, names: Iterable[str]) -> None:
        """Download each named object this host has no copy of into ``directory`` (a temporary file, then a
        rename: a killed download leaves no partial checkpoint)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in names:
            if name in ("", ".", "..") or "/" in name or (directory / name).exists():
                continue  # this host's own copy is the newest there is
            tmp = directory / f".{name}.fetch-{secrets.token_hex(4)}"
            try:
                with self._errors(f"download {name} from"):
                    self._download(self._key(directory, name), tmp)
                os.replace(tmp, directory / name)
            finally:
                tmp.unlink(missing_ok=True)

    def _download(self, key: str, target: Path) -> None:
        """Stream one object into a local file, ``COPY_CHUNK_BYTES`` at a time."""
        with self.fs.open(key, "rb", block_size=UPLOAD_BLOCK_BYTES) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, COPY_CHUNK_BYTES)

    def _swap(self, tmp: Path, directory: Path, present: bool) -> None:
        trash = directory.with_name(f".{directory.name}.old-{secrets.token_hex(4)}")
        with held(self._lock, self._lock_path, _CACHE_LOCK_TIMEOUT_S):
            if directory.exists():
                os.replace(directory, trash)
            if present:
                os.replace(tmp, directory)
        shutil.rmtree(trash, ignore_errors=True)

    def version_dirs(self) -> list[Path]:
        """The local directory of every ``v{N}`` prefix under a model directory of the layout (one LIST)."""
        with self._errors("list"):
            keys = self._find(self.base)
        found = set()
        for key in keys:
            parts = key[len(self.base) + 1:].split("/")
            for i in range(1, len(parts) - 1):
                if parse_version_dir(parts[i]) is None:
                    continue
                try:
                    ModelKey.from_relative_dir("/".join(parts[:i]))
                except IdentifierError:
                    continue  # a key field named like a version: keep looking further down
                found.add(self.local_root.joinpath(*parts[: i + 1]))
                break
        return sorted(found)

    def exists(self, directory: Path) -> bool:
        """Whether any object lies under the version's prefix."""
        with self._errors("list"):
            return bool(self._find(self._key(directory)))

    def unlist(self, directory: Path) -> None:
        """Delete the stored status marker (a version without one is never complete)."""
        with self._errors("delete the status marker in"):
            try:
                self.fs.rm_file(self._key(directory, STATUS_FILE))
            except FileNotFoundError:
                pass

    def remove(self, directory: Path) -> None:
        """Delete every object under the version's prefix."""
        with self._errors("delete a version in"):
            keys = self._find(self._key(directory))
            if keys:
                self.fs.rm(keys)
