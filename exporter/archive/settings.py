"""Where the archive lives when a command is not told: ``--root`` / ``--db-url``, else the environment.

Every CLI that opens the archive (``curvewatch train``, ``curvewatch versions``) takes its defaults from
here, so ``CURVEWATCH_ROOT`` and ``CURVEWATCH_DB_URL`` mean the same thing everywhere:

- env_defaults_apply_to_every_command: the root is ``$CURVEWATCH_ROOT`` or ``saved_models``; the registry
  is ``$CURVEWATCH_DB_URL`` or ``None`` (a SQLite file next to the root); a URL root (``s3://...``) is
  cached under ``$CURVEWATCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/curvewatch``, else ``~/.cache/curvewatch``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "DB_URL_ENV", "DEFAULT_ROOT", "ROOT_ENV", "default_cache_dir", "default_db_url",
           "default_root"]

ROOT_ENV = "CURVEWATCH_ROOT"
DB_URL_ENV = "CURVEWATCH_DB_URL"
DEFAULT_ROOT = "saved_models"
CACHE_ENV = "CURVEWATCH_CACHE_DIR"  # this host's copies of URL roots' versions


def default_root() -> str:
    """``$CURVEWATCH_ROOT`` if set and not empty, else ``saved_models``."""
    return os.environ.get(ROOT_ENV) or DEFAULT_ROOT


def default_db_url() -> str | None:
    """``$CURVEWATCH_DB_URL`` if set and not empty, else ``None`` (the SQLite file next to the root)."""
    return os.environ.get(DB_URL_ENV) or None


def default_cache_dir() -> Path:
    """``$CURVEWATCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/curvewatch``, else ``~/.cache/curvewatch``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "curvewatch"
