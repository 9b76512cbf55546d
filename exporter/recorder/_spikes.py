"""Spikes among the M4 candidates: short excursions far from the local trend.

Definition (used by the final pick, stated in ``CurveRecorder``'s guarantees): on the candidates'
finite values, drawn as the chart draws them (log10 on a log chart, where values <= 0 are left
out), take for each candidate the median ``m`` of the window of ``2 * SPIKE_WINDOW + 1``
candidates centred on it (the local trend) and the median absolute deviation ``d`` from ``m`` in
that window (the local spread), floored at ``SPREAD_FLOOR`` of the line's drawn y range. A
candidate is outlying when ``|value - m| > SPIKE_FACTOR * d``; a spike is an outlying candidate in
a run of at most ``SPIKE_RUN`` consecutive outlying candidates on the same side of their trends (a
longer run is a level change, such as a learning-rate drop, not a spike). Its size is
``|value - m| / d``. Candidates are M4 points (first, last, min, max of a step bucket), so a
logged spike is a candidate when it is its bucket's largest excursion.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["SPIKE_FACTOR", "SPIKE_RUN", "SPIKE_WINDOW", "SPREAD_FLOOR", "spikes"]

SPIKE_WINDOW = 16  # candidates on each side of the one judged
SPIKE_FACTOR = 8.0  # robust multiples of the local spread
SPIKE_RUN = 3  # at most this many consecutive outlying candidates make a spike
SPREAD_FLOOR = 0.005  # of the drawn y range: below it, a deviation is invisible (2 px of 400)


def spikes(drawn: np.ndarray, limit: int) -> np.ndarray:
    """Indices into ``drawn`` (finite candidate values as drawn) of its spikes, the largest
    ``limit`` of them when there are more, in index order (ties by size keep the earlier)."""
    n = drawn.size
    if n < 3 or limit <= 0:
        return np.empty(0, dtype=np.int64)
    w = min(SPIKE_WINDOW, (n - 1) // 2)
    padded = np.pad(drawn, w, mode="edge")
    win = sliding_window_view(padded, 2 * w + 1)
    trend = np.median(win, axis=1)
    spread = np.median(np.abs(win - trend[:, None]), axis=1)
    floor = SPREAD_FLOOR * max(float(drawn.max() - drawn.min()), 1e-300)
    spread = np.maximum(spread, floor)
    dev = drawn - trend
    size = np.abs(dev) / spread
    side = np.where(size > SPIKE_FACTOR, np.sign(dev), 0.0)
    # runs of equal non-zero side: a run longer than SPIKE_RUN is a level change, not spikes
    change = np.flatnonzero(np.diff(side) != 0) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.append(starts, n))
    run_len = np.repeat(lengths, lengths)
    found = np.flatnonzero((side != 0) & (run_len <= SPIKE_RUN))
    if found.size > limit:
        order = np.lexsort((found, -size[found]))  # largest first, earlier on ties
        found = np.sort(found[order[:limit]])
    return found
