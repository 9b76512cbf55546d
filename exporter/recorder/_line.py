"""One recorded line: its points while short (fewer than ``RAW_LIMIT``, or at most its budget),
streaming M4 buckets after, and its statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._buckets import M4Buckets
from ._select import select_points
from .live import LiveWindow

__all__ = ["JUDGED_FROM", "RAW_LIMIT", "Line"]

Point = tuple[int, float]
JUDGED_FROM = 10_000  # logged points from which picks are judged (_judge); a shorter line takes MinMaxLTTB's
RAW_LIMIT = 2**15  # a line keeps its points themselves while it holds fewer than max(budget + 1, RAW_LIMIT)
# (512 KiB at most, about what its M4 buckets take): nothing is folded, a pick is of every point (its MinMaxLTTB
# pick is what an offline pass picks) and it is judged against the line itself


class Line:
    """Points of one metric; at most ``budget`` come out of :meth:`curve`."""

    def __init__(self, metric: str, budget: int, n_buckets: int, window_seconds: float) -> None:
        self.metric = metric
        self.budget = budget
        self.n_buckets = n_buckets  # M4 buckets once the line outgrows its budget and RAW_LIMIT
        self.raw_limit = max(budget, RAW_LIMIT - 1)  # points held as they are, at most
        self.raw_steps = np.empty(0, dtype=np.int64)
        self.raw_values = np.empty(0, dtype=np.float64)
        self.buckets: M4Buckets | None = None
        self.count = 0
        self.purged = 0  # kept points dropped by purges (a metric that went back, a resume)
        self.nonfinite_count = 0
        self.first_nonfinite: Point | None = None
        self.first: Point | None = None
        self.last: Point | None = None
        self.min: Point | None = None
        self.max: Point | None = None
        self.window = LiveWindow(window_seconds)

    # -- folding -----------------------------------------------------------------------
    def extend(self, steps: np.ndarray, values: np.ndarray, now: float, fresh: int) -> None:
        """Fold a chunk of points with non-decreasing steps; the last ``fresh`` of them were not
        yet seen by the live window (a scrape saw the others earlier, at their own time)."""
        n = steps.size
        if n == 0:
            return
        finite = np.isfinite(values)
        all_finite = bool(finite.all())
        extremes = self._update_stats(steps, values, finite, all_finite)
        if fresh == n and extremes is not None:
            self.window.add_extremes(now, extremes[0], extremes[1])
        elif fresh:
            self.window.add(now, values[n - fresh:])
        self.count += n
        if self.buckets is None and self.raw_steps.size + n <= self.raw_limit:
            self.raw_steps = np.concatenate([self.raw_steps, steps])
            self.raw_values = np.concatenate([self.raw_values, values])
            return
        if self.buckets is None:
            self.buckets = M4Buckets(self.n_buckets, int(self.raw_steps[0] if
                                                                           self.raw_steps.size else steps[0]))
            self.buckets.add(self.raw_steps, self.raw_values)
            self.raw_steps = np.empty(0, dtype=np.int64)
            self.raw_values = np.empty(0, dtype=np.float64)
        self.buckets.add(steps, values, finite if not all_finite else None)

    def _update_stats(self, steps: np.ndarray, values: np.ndarray, finite: np.ndarray,
                      all_finite: bool) -> tuple[float, float] | None:
        """Update first/last/min/max/non-finite; return the chunk's finite (min, max), if any."""
        if self.first is None:
            self.first = (int(steps[0]), float(values[0]))
        self.last = (int(steps[-1]), float(values[-1]))
        if not all_finite:
            bad = np.flatnonzero(~finite)
            self.nonfinite_count += bad.size
            if self.first_nonfinite is None:
                self.first_nonfinite = (int(steps[bad[0]]), float(values[bad[0]]))
            if bad.size == values.size:
                return None
            i = int(np.argmin(np.where(finite, values, np.inf)))
            j = int(np.argmax(np.where(finite, values, -np.inf)))
        else:
            i, j = int(values.argmin()), int(values.argmax())  # the first occurrence: ties keep the earliest
        lo, hi = float(values[i]), float(values[j])
        if self.min is None or lo < self.min[1]:
            self.min = (int(steps[i]), lo)
        if self.max is None or hi > self.max[1]:
            self.max = (int(steps[j]), hi)
        return lo, hi

    # -- reading -----------------------------------------------------------------------
    def kept_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Every point currently held (raw, or the M4 candidates)."""
        if self.buckets is None:
            return self.raw_steps, self.raw_values
        return self.buckets.points()

    def curve(self, yscale: str = "linear") -> tuple[np.ndarray, np.ndarray]:
        """At most ``budget`` points: all of them when the line is small, else a pick of the M4
        candidates (and the true last point) that always holds first, last, min, max, the first
        non-finite and the spikes (see ``_select``)."""
        steps, values = self.kept_points()
        if self.buckets is None:
            if steps.size <= self.budget:
                return steps, values
            required = [p for p in (self.first, self.last, self.min, self.max, self.first_nonfinite) if p]
            return select_points(steps, values, self.budget, required, yscale, None,
                                 judged=self.count >= JUDGED_FROM)
        last = self.last
        if last is not None and not _holds(steps, values, last):  # a NaN/inf tail: M4 keeps finite lasts
            steps, values = np.append(steps, last[0]), np.append(values, last[1])
        required = [p for p in (self.first, last, self.min, self.max, self.first_nonfinite) if p]
        return select_points(steps, values, self.budget, required, yscale, self.buckets.runners_up(),
                             judged=self.count >= JUDGED_FROM)

    def value_at_or_before(self, step: int) -> Point | None:
        """The latest kept point at or before ``step``."""
        steps, values = self.kept_points()
        i = int(np.searchsorted(steps, step, side="right")) - 1
        return (int(steps[i]), float(values[i])) if i >= 0 else None

    # -- resume ------------------------------------------------------------------------
    def truncate(self, step: int) -> int:
        """Drop kept points at ``step`` or later (a resumed run re-logs them); return how many."""
        if self.buckets is None:
            keep = self.raw_steps < step
            dropped = int((~keep).sum())
            self.raw_steps, self.raw_values = self.raw_steps[keep], self.raw_values[keep]
        elif step <= self.buckets.origin:  # every kept point goes: start over, exact again
            dropped = self.buckets.points()[0].size
            self.buckets = None
        else:
            dropped = self.buckets.truncate(step)
        self.purged += dropped
        steps, values = self.kept_points()
        self.first = (int(steps[0]), float(values[0])) if steps.size else None
        self.last = (int(steps[-1]), float(values[-1])) if steps.size else None
        if self.first_nonfinite and self.first_nonfinite[0] >= step:
            bad = np.flatnonzero(~np.isfinite(values))
            self.first_nonfinite = (int(steps[bad[0]]), float(values[bad[0]])) if bad.size else None
        finite = np.isfinite(values)
        self.min = self.max = None
        if finite.any():
            fs, fv = steps[finite], values[finite]
            self.min = (int(fs[np.argmin(fv)]), float(fv.min()))
            self.max = (int(fs[np.argmax(fv)]), float(fv.max()))
        return dropped

    def state_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "raw_steps": self.raw_steps.tolist(),
            "raw_values": self.raw_values.tolist(),
            "buckets": None if self.buckets is None else self.buckets.state_dict(),
            "count": self.count,
            "purged": self.purged,
            "nonfinite_count": self.nonfinite_count,
            "first_nonfinite": _pt(self.first_nonfinite),
            "first": _pt(self.first),
            "last": _pt(self.last),
            "min": _pt(self.min),
            "max": _pt(self.max),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.raw_steps = np.asarray(state["raw_steps"], dtype=np.int64)
        self.raw_values = np.asarray(state["raw_values"], dtype=np.float64)
        b = state["buckets"]
        self.buckets = None if b is None else M4Buckets.from_state_dict(b)
        self.count = int(state["count"])
        self.nonfinite_count = int(state["nonfinite_count"])
        for name in ("first_nonfinite", "first", "last", "min", "max"):
            p = state[name]
            setattr(self, name, None if p is None else (int(p[0]), float(p[1])))
        self.purged = int(state.get("purged", 0))  # absent in states saved before per-line purge counts


def _holds(steps: np.ndarray, values: np.ndarray, p: Point) -> bool:
    """Whether the last of (steps, values) is the point ``p`` (NaN equal to NaN)."""
    if not steps.size or steps[-1] != p[0]:
        return False
    v = float(values[-1])
    return v == p[1] or (v != v and p[1] != p[1])


def _pt(p: Point | None) -> list[Any] | None:
    return None if p is None else [p[0], p[1]]
