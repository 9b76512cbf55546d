"""Dropping stale points: one metric that went back, or every metric at a resume.

Runs under the recorder's lock, after a fold (nothing of the purged metrics is still buffered).
It truncates the lines, counts what went per line and in total, lowers the last step to what is
left, and keeps the best candidate consistent with the points that remain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .best import BestTracker

if TYPE_CHECKING:
    from ._line import Line

__all__ = ["purge"]


class Purgeable(Protocol):
    """What purge() reads and writes of a recorder (``CurveRecorder`` is one)."""

    _lines: dict[str, Line]
    _best: BestTracker | None
    _last_step: int
    _steps_total: int
    _live_steps: tuple[int, int]
    purged_points: int


def purge(rec: Purgeable, step: int, metrics: list[str]) -> int:
    """Drop the points of ``metrics`` at ``step`` and later; return how many kept points went."""
    dropped = 0
    for metric in metrics:
        line = rec._lines.get(metric)
        if line is not None:
            dropped += line.truncate(step)
    rec.purged_points += dropped
    lasts = [line.last[0] for line in rec._lines.values() if line.last is not None]
    rec._last_step = max(lasts, default=-1)  # re-logged steps count again
    rec._live_steps = (rec._steps_total, rec._last_step)
    best = rec._best
    if best is not None and best.step is not None:
        if best.metric in metrics and best.step >= step:
            rec._best = _rebuilt(best, rec._lines)
        else:
            for metric in metrics:
                if metric in best.values and best.values[metric][0] >= step:
                    line = rec._lines.get(metric)
                    p = None if line is None else line.value_at_or_before(best.step)
                    if p is None:
                        del best.values[metric]
                    else:
                        best.values[metric] = p
    return dropped


def _rebuilt(best: BestTracker, lines: dict[str, Line]) -> BestTracker:
    """The candidate rebuilt from the points still held (the purge removed the old one)."""
    fresh = BestTracker(best.metric, best.mode)
    line = lines.get(fresh.metric)
    if line is not None:
        steps, values = line.kept_points()
        if fresh.consider(steps, values) and fresh.step is not None:
            for metric, other in lines.items():
                p = other.value_at_or_before(fresh.step)
                if p is not None:
                    fresh.values[metric] = p
    return fresh
