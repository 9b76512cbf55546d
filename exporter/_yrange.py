"""A robust y range for pictures of curves: one huge spike or a divergence to 1e28 does not flatten the rest.

Like TensorBoard's "ignore outliers in chart scaling", but nothing is dropped: the range is chosen from
the bulk of the values and every value outside it is an *outlier* that the drawing code marks at the
edge with its value (``curvewatch.recorder.plot``, ``curvewatch.views``).

>>> yr = robust_y_range([np.array([1.0, 0.9, 0.8, 1e28])], log=True)
>>> yr.outside(np.array([0.8, 1e28]))            # array([False,  True])

Guarantees (tests named after them in tests/test_views_yrange.py):
- ignores_far_outliers_in_scaling: values beyond ``FENCE`` times the spread of the central values
  (``TAIL`` of them, and at least one, trimmed at each end; in log10 space on a log axis) are left out.
- keeps_the_whole_range_when_nothing_is_far_out: otherwise the range covers every value (plus a margin).
- keeps_the_values_asked_for: ``keep`` values (the best point) are always inside the range.
- non-finite values (and values <= 0 on a log axis) never take part; with no usable value the result is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FENCE", "MARGIN", "TAIL", "YRange", "robust_y_range"]

TAIL = 0.05  # the central 90% of the values make the spread (a divergence is often several points)
FENCE = 1.0  # a value further than FENCE x spread beyond that central part is an outlier
MARGIN = 0.05  # fraction of the range added on both sides


@dataclass(frozen=True)
class YRange:
    """The y limits to draw with; ``clipped`` tells whether some values lie outside them."""

    low: float
    high: float
    clipped: bool
    log: bool = False

    def outside(self, y: np.ndarray) -> np.ndarray:
        """Boolean mask of the finite values of ``y`` outside ``[low, high]`` (to mark at the edge)."""
        y = np.asarray(y, dtype=float)
        with np.errstate(invalid="ignore"):
            drawable = np.isfinite(y) & ((y > 0) | (not self.log))
            return drawable & ((y < self.low) | (y > self.high))


def _usable(values: Iterable[np.ndarray], log: bool) -> np.ndarray:
    parts = [np.asarray(v, dtype=float).ravel() for v in values]
    y = np.concatenate(parts) if parts else np.empty(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = y[np.isfinite(y) & ((y > 0) | (not log))]
        return np.log10(y) if log else y


def robust_y_range(values: Iterable[np.ndarray], *, log: bool = False, keep: Sequence[float] = ()) -> YRange | None:
    """The y range of the values of one chart (all its lines), outliers left out; ``None`` if nothing is drawable."""
    t = _usable(values, log)
    if t.size == 0:
        return None
    lo_all, hi_all = float(t.min()), float(t.max())
    ordered = np.sort(t)
    trim = max(1, int(TAIL * t.size)) if t.size >= 3 else 0  # at least one value each side: one spike in ten
    q_lo, q_hi = float(ordered[trim]), float(ordered[t.size - 1 - trim])
    spread = q_hi - q_lo
    if spread <= 0:  # a flat bulk: any departure of more than its own size (or 1 unit) counts
        spread = max(abs(q_hi), 1.0) if not log else 1.0
    low = max(lo_all, q_lo - FENCE * spread)
    high = min(hi_all, q_hi + FENCE * spread)
    inside = t[(t >= low) & (t <= high)]
    low, high = float(inside.min()), float(inside.max())
    kept = _usable([np.asarray(keep, dtype=float)], log)
    if kept.size:
        low, high = min(low, float(kept.min())), max(high, float(kept.max()))
    pad = (high - low) * MARGIN if high > low else (abs(high) * MARGIN or 0.5)
    low, high = low - pad, high + pad
    clipped = lo_all < low or hi_all > high
    if log:
        return YRange(float(10**low), float(10**high), clipped, log=True)
    return YRange(low, high, clipped)
