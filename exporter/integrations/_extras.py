"""Import a framework only when its integration is used, and name the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """``module`` imported, or an ImportError saying which ``pip install`` adds it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"curvewatch's {extra} integration needs the {module!r} package; "
            f"install it with: pip install 'curvewatch[{extra}]'."
        ) from exc
