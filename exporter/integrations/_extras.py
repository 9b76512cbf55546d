"""Import a framework only when its integration is used; a missing one is named with its extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from curvewatch.extras import MissingExtraError

__all__ = ["require"]


def require(module: str, what: str) -> ModuleType:
    """``module`` imported, or a :class:`MissingExtraError` saying which ``pip install`` adds it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError.of(exc, what) from exc
