"""The TensorBoard integration's one error: input it cannot use, said in a sentence."""

from __future__ import annotations

__all__ = ["TensorBoardInputError"]


class TensorBoardInputError(ValueError):
    """A logdir, run or event file that cannot be imported or followed; the message says why and what to do."""
