"""The live view of a recorder, read by scrape threads, and its trailing wall-clock window.

Window min/max are kept per time slot and expire with time, never on read: two Prometheus
servers scraping the same process both see a spike logged between their scrapes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

__all__ = ["BestLive", "LineLive", "LiveView", "LiveWindow"]

_SLOTS_PER_WINDOW = 60


@dataclass(frozen=True)
class LineLive:
    """The current state of one line."""

    chart: str
    metric: str
    step: int
    value: float
    window_min: float  # min of the finite values logged in the trailing window (nan if none)
    window_max: float
    nonfinite_total: int
    first_nonfinite_step: int | None
    points_total: int


@dataclass(frozen=True)
class BestLive:
    """The best value so far of the tracked metric (the final best is decided at finalize)."""

    metric: str
    mode: str
    value: float  # nan until a finite value was logged
    step: int | None
    steps_since: int | None


@dataclass(frozen=True)
class LiveView:
    """What a recorder shows while it runs."""

    step: int | None
    epoch: int | None
    steps_total: int
    last_log_unixtime: float | None
    window_seconds: float
    finalized: bool
    lines: tuple[LineLive, ...]
    best: tuple[BestLive, ...]


class LiveWindow:
    """Min and max of finite values seen in the last ``seconds``, in bounded time slots."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.slot = max(self.seconds / _SLOTS_PER_WINDOW, 1e-3)
        self._slots: OrderedDict[int, list[float]] = OrderedDict()

    def add(self, now: float, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)]
        if finite.size:
            self.add_extremes(now, float(finite.min()), float(finite.max()))

    def add_extremes(self, now: float, lo: float, hi: float) -> None:
        key = int(now // self.slot)
        cur = self._slots.get(key)
        if cur is None:
            self._slots[key] = [lo, hi]
        else:
            cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
        self._expire(now)

    def extremes(self, now: float) -> tuple[float, float]:
        self._expire(now)
        if not self._slots:
            return math.nan, math.nan
        return min(s[0] for s in self._slots.values()), max(s[1] for s in self._slots.values())

    def _expire(self, now: float) -> None:
        oldest = int((now - self.seconds) // self.slot)
        while self._slots and next(iter(self._slots)) < oldest:
            self._slots.popitem(last=False)
