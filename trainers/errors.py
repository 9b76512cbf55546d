"""Errors of the trainers area, as plain sentences that say what to do."""

from __future__ import annotations

__all__ = ["SalesDataError", "TrainerInputError"]


class TrainerInputError(ValueError):
    """A training or prediction request is invalid; raised before any directory is created."""


class SalesDataError(TrainerInputError):
    """Sales data (a CSV file or a selection of it) cannot be used; the message names the row or column."""
