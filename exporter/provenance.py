"""Provenance for audit: where, by whom and from what a version was made (``metadata.json["provenance"]``).

    provenance(data_files=["train.csv"], resumed_from="saved_models/.../checkpoint_best.pth")

Records curvewatch's own version, the command line and entry point, host and user, the Python, torch and
numpy versions, the git commit of the current directory's checkout and whether it had uncommitted changes
to tracked files (``dirty``; untracked files do not count), the SHA-256 of each data file given and the
resume source. Every field is best effort: what cannot be found is ``None``, never an error.
``ModelArchive.commit`` adds it to every version whose metadata has none, so every kind of run has one.

Guarantee (tested by its name in tests/test_library_provenance.py):

- no_password_in_the_recorded_command: a password in a URL on the command line (``--db-url
  postgresql+psycopg://user:secret@host/db``, ``https://user:token@host``) is recorded as ``user:***@``;
  the user and the rest of the URL stay for the audit.
"""

from __future__ import annotations

import datetime as dt
import getpass
import importlib.metadata
import os
import platform
import re
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["GIT_TIMEOUT_S", "PACKAGES", "PROVENANCE_KEY", "git_state", "provenance", "with_provenance"]

PROVENANCE_KEY = "provenance"  # its key in metadata.json
PACKAGES = ("curvewatch", "torch", "numpy")  # whose versions are recorded
GIT_TIMEOUT_S = 10.0
_URL_PASSWORD_RE = re.compile(r"(?<=://)([^/@:\s]*):[^/@\s]*@")  # scheme://user:password@


def _redacted(arg: str) -> str:
    return _URL_PASSWORD_RE.sub(r"\1:***@", arg)


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(name)
        return getattr(module, "__version__", None)


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME in a container
        return None


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                             timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """``{"commit", "dirty", "root"}`` of the git checkout holding ``cwd`` (default: the current directory),
    or None when it is not in one (or git is not installed)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    root = _git(cwd, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    commit = _git(cwd, "rev-parse", "--verify", "--quiet", "HEAD")  # None in a repository without commits
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status), "root": root}


def _digest(path: Path) -> dict[str, Any]:
    from curvewatch.archive.atomic import sha256_file

    try:
        return {"path": str(path.absolute()), "sha256": sha256_file(path), "bytes": path.stat().st_size}
    except OSError as exc:
        return {"path": str(path.absolute()), "sha256": None, "error": f"{type(exc).__name__}: {exc.strerror}"}


def provenance(*, data_files: Iterable[str | os.PathLike[str]] = (), data_digests: Iterable[dict[str, Any]] = (),
               resumed_from: str | os.PathLike[str] | None = None,
               cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The provenance of a run made by this process now (see the module docstring); ``data_digests`` are
    digests computed already (``{"path", "sha256"}``), ``data_files`` are hashed here."""
    main = sys.modules.get("__main__")
    return {
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "command": [_redacted(str(arg)) for arg in sys.argv],
        "entry_point": getattr(getattr(main, "__spec__", None), "name", None) or getattr(main, "__file__", None),
        "executable": sys.executable,
        "host": socket.gethostname(),
        "user": _user(),
        "pid": os.getpid(),
        "cwd": str(Path.cwd() if cwd is None else Path(cwd).absolute()),
        "python": platform.python_version(),
        "packages": {name: _package_version(name) for name in PACKAGES},
        "git": git_state(cwd),
        "data": [*map(dict, data_digests), *(_digest(Path(p)) for p in data_files)],
        "resumed_from": None if resumed_from is None else str(resumed_from),
    }


def with_provenance(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with this process's provenance added when it has none (``ModelArchive.commit``)."""
    return metadata if PROVENANCE_KEY in metadata else {**metadata, PROVENANCE_KEY: provenance()}
