"""The serving area's exceptions: plain sentences that say what to do (subclasses of built-ins)."""

from __future__ import annotations

__all__ = ["ServingError", "ServingInputError"]


class ServingError(RuntimeError):
    """A served version cannot be loaded or used (the message says why and what to do)."""


class ServingInputError(ValueError):
    """A request body or an argument is wrong; the HTTP service answers it with a 4xx and this sentence."""
