"""Errors of the recorder and of the curves document, as plain sentences that say what to do."""

from __future__ import annotations

__all__ = ["CurveDocumentError", "RecorderError"]


class RecorderError(ValueError):
    """A call to the recorder got input it cannot record; nothing was recorded by that call."""


class CurveDocumentError(ValueError):
    """A curves document is not valid against the shipped JSON Schema, or cannot be decoded."""
