"""Spikes among the M4 candidates: short excursions far from the local trend.

Definition (used by the final pick, stated in ``CurveRecorder``'s guarantees): take the
candidates' finite values as the chart draws them (log10 on a log chart, where values <= 0 are
left out) and two tilings of them into windows of ``2 * SPIKE_WINDOW + 1`` consecutive
candidates, one starting at the first candidate and one shifted by half a window, so that each
candidate lies in two windows (one at the very start: ends are padded with the end values). In
a window, the local trend is the median and the local spread the median absolute deviation from
it, floored at ``SPREAD_FLOOR`` of the line's drawn y range. A candidate is outlying when it is
more than ``SPIKE_FACTOR`` spreads from the trend in *both* its windows; a spike is an outlying
candidate in a run of at most ``SPIKE_RUN`` consecutive outlying candidates on the same side of
their trends (a longer run is a level change, such as a learning-rate drop, not a spike). Its
size is the smaller of its two distances, in spreads. Candidates are M4 points (first, last, min,
max of a step bucket), and each bucket's runners-up (second min and max, ``_buckets``) join them
when they are spikes among them, so a logged spike is found when it is one of its bucket's two
largest excursions on its side.
Cost: two medians per window, O(candidates), not one per candidate (compiled in ``_craster.c`` when built).
"""

from __future__ import annotations

import numpy as np

from ._raster import kernel

__all__ = ["SPIKE_FACTOR", "SPIKE_RUN", "SPIKE_WINDOW", "SPREAD_FLOOR", "find_spikes", "largest"]

SPIKE_WINDOW = 16  # candidates on each side of the one judged
SPIKE_FACTOR = 8.0  # robust multiples of the local spread
SPIKE_RUN = 3  # at most this many consecutive outlying candidates make a spike
SPREAD_FLOOR = 0.005  # of the drawn y range: below it, a deviation is invisible (2 px of 400)


def find_spikes(drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every spike of ``drawn``: its index (in index order) and its size (in spreads)."""
    n = drawn.size
    if n < 3:
        return np.empty(0, dtype=np.int64), np.empty(0)
    w = min(SPIKE_WINDOW, (n - 1) // 2)
    floor = SPREAD_FLOOR * max(float(drawn.max() - drawn.min()), 1e-300)
    c = kernel()
    if c is not None:  # the same spikes, compiled (_craster.c): one pass, no array the size of drawn filled
        found, size = np.empty(n, dtype=np.int64), np.empty(n)
        m = c.spikes(np.ascontiguousarray(drawn, dtype=np.float64), w, floor, SPIKE_FACTOR, SPIKE_RUN, found, size)
        return found[:m].copy(), size[:m].copy()
    dev_a, size_a = _tiled(drawn, 2 * w + 1, 0, floor)
    dev_b, size_b = _tiled(drawn, 2 * w + 1, w, floor)
    size = np.minimum(size_a, size_b)
    same_side = np.sign(dev_a) == np.sign(dev_b)
    side = np.where((size > SPIKE_FACTOR) & same_side, np.sign(dev_a), 0.0)
    # runs of equal non-zero side: a run longer than SPIKE_RUN is a level change, not spikes
    change = np.flatnonzero(np.diff(side) != 0) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.append(starts, n))
    run_len = np.repeat(lengths, lengths)
    found = np.flatnonzero((side != 0) & (run_len <= SPIKE_RUN))
    return found, size[found]


def largest(found: np.ndarray, size: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` largest of the spikes ``found`` (of sizes ``size``), in index order."""
    if found.size <= limit:
        return found
    order = np.lexsort((found, -size))  # largest first, earlier on ties
    return np.sort(found[order[:max(limit, 0)]])


def _tiled(drawn: np.ndarray, width: int, shift: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Each value's distance from its window's median, and that distance in window spreads, for
    windows of ``width`` values starting at ``-shift`` (ends padded with the end values)."""
    n = drawn.size
    tail = (-(n + shift)) % width
    padded = np.pad(drawn, (shift, tail), mode="edge").reshape(-1, width)
    mid = width // 2  # width is odd: the median is the middle value (np.median costs more, and imports numpy.ma)
    trend = np.partition(padded, mid, axis=1)[:, mid:mid + 1]
    spread = np.maximum(np.partition(np.abs(padded - trend), mid, axis=1)[:, mid:mid + 1], floor)
    dev = (padded - trend).reshape(-1)[shift:shift + n]
    return dev, np.abs(dev) / np.repeat(spread.reshape(-1), width)[shift:shift + n]
