"""Where the archive lives when a command is not told: ``--root`` / ``--db-url``, else the environment.

Every CLI that opens the archive (``curvewatch train``, ``curvewatch versions``) takes its defaults from
here, so ``CURVEWATCH_ROOT`` and ``CURVEWATCH_DB_URL`` mean the same thing everywhere:

- env_defaults_apply_to_every_command: the root is ``$CURVEWATCH_ROOT`` or ``saved_models``; the registry
  is ``$CURVEWATCH_DB_URL`` or ``None`` (a SQLite file next to the root).
"""

from __future__ import annotations

import os

__all__ = ["DB_URL_ENV", "DEFAULT_ROOT", "ROOT_ENV", "default_db_url", "default_root"]

ROOT_ENV = "CURVEWATCH_ROOT"
DB_URL_ENV = "CURVEWATCH_DB_URL"
DEFAULT_ROOT = "saved_models"


def default_root() -> str:
    """``$CURVEWATCH_ROOT`` if set and not empty, else ``saved_models``."""
    return os.environ.get(ROOT_ENV) or DEFAULT_ROOT


def default_db_url() -> str | None:
    """``$CURVEWATCH_DB_URL`` if set and not empty, else ``None`` (the SQLite file next to the root)."""
    return os.environ.get(DB_URL_ENV) or None
