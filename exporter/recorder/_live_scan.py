"""Building a LiveView from folded lines plus the values still in the log buffers.

Runs in the scrape thread under the recorder's lock. It reads the buffers without changing them
(the training thread only appends), and it scans only the values logged since the previous
scrape: what it learnt about the earlier buffered values is kept in a ``PendingLive`` per metric
until the next fold. So a scrape costs O(lines + new values), never O(buffer), and the training
loop waits on a scrape only while its own fold runs. Values seen here for the first time enter
the live window now.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ._values import chunk_arrays, count_steps
from .live import BestLive, LineLive, LiveView

if TYPE_CHECKING:
    from ._charts import Charts
    from ._line import Line
    from .best import BestTracker

__all__ = ["PendingLive", "build_live_view"]

Point = tuple[int, float]


class PendingLive:
    """What scrapes learnt about one metric's buffered (not yet folded) values."""

    __slots__ = ("seen", "count", "nonfinite", "first_nonfinite", "last", "best")

    def __init__(self) -> None:
        self.seen = 0  # buffered values already scanned
        self.count = 0
        self.nonfinite = 0
        self.first_nonfinite: Point | None = None
        self.last: Point | None = None
        self.best: Point | None = None  # running best of these values, for the tracked metric

    def scan(self, steps: np.ndarray, values: np.ndarray, mode: str | None) -> None:
        self.count += steps.size
        self.last = (int(steps[-1]), float(values[-1]))
        finite = np.isfinite(values)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            self.nonfinite += bad.size
            if self.first_nonfinite is None:
                self.first_nonfinite = (int(steps[bad[0]]), float(values[bad[0]]))
        if mode is not None and finite.any():
            masked = np.where(finite, values, np.inf if mode == "min" else -np.inf)
            i = int(np.argmin(masked) if mode == "min" else np.argmax(masked))
            v = float(values[i])
            if self.best is None or (v < self.best[1] if mode == "min" else v > self.best[1]):
                self.best = (int(steps[i]), v)


class Scanned(Protocol):
    """What a live scan reads and writes of a recorder (``CurveRecorder`` is one)."""

    _best: BestTracker | None
    _buf: Any
    _pending_live: dict[str, PendingLive]
    _lines: dict[str, Line]
    _live_steps: tuple[int, int]
    _last_log_unixtime: float | None
    _document: dict[str, Any] | None
    charts: Charts
    epoch: int | None
    live_window: float

    def _line(self, metric: str) -> Line: ...


def build_live_view(rec: Scanned) -> LiveView:
    now = time.monotonic()
    best = rec._best
    new_steps = []
    for name, n in rec._buf.sizes().items():
        acc = rec._pending_live.get(name)
        if acc is None:
            acc = rec._pending_live[name] = PendingLive()
        if n > acc.seen:
            steps, values = chunk_arrays(rec._buf.read(name, acc.seen, n))
            acc.seen = n
            acc.scan(steps, values, best.mode if best is not None and best.metric == name else None)
            rec._line(name).window.add(now, values)
            new_steps.append(steps)
    if new_steps:
        rec._live_steps = count_steps(new_steps, *rec._live_steps)
        rec._last_log_unixtime = time.time()
    lines = [_line_live(rec, metric, rec._pending_live.get(metric), now) for metric in rec._lines]
    steps_total, last = rec._live_steps
    last_step = last if last >= 0 else None
    bests: tuple[BestLive, ...] = ()
    if best is not None:
        step, value = best.step, best.value
        pending = rec._pending_live.get(best.metric)
        if pending is not None and pending.best is not None and best.better(pending.best[1]):
            step, value = pending.best
        since = None if step is None or last_step is None else last_step - step
        bests = (BestLive(best.metric, best.mode, value, step, since),)
    return LiveView(last_step, rec.epoch, steps_total, rec._last_log_unixtime, rec.live_window,
                    rec._document is not None, tuple(lines), bests)


def _line_live(rec: Scanned, metric: str, pending: PendingLive | None, now: float) -> LineLive:
    line = rec._lines[metric]
    last, nonfinite, first_nf, count = line.last, line.nonfinite_count, line.first_nonfinite, line.count
    if pending is not None and pending.count:
        last = pending.last
        nonfinite += pending.nonfinite
        first_nf = first_nf or pending.first_nonfinite
        count += pending.count
    step, value = last if last is not None else (-1, math.nan)
    lo, hi = line.window.extremes(now)
    return LineLive(rec.charts.owner[metric], metric, int(step), value, lo, hi, nonfinite,
                    None if first_nf is None else int(first_nf[0]), count)
