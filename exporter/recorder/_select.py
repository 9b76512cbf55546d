"""The final pick: ``budget`` points out of the M4 candidates, by MinMaxLTTB (tsdownsample).

Streaming M4 keeps 4-8x the budget as candidates; points inside flat runs are dropped (the
run's ends draw the same), MinMaxLTTB (van der Donckt et al., 2023) picks the points that keep
the drawn shape from the rest, and the required points (first, last, global min and max,
first non-finite) are always added back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

__all__ = ["select_points"]

_DOWNSAMPLER = MinMaxLTTBDownsampler()


def select_points(
    steps: np.ndarray, values: np.ndarray, budget: int, required: Sequence[tuple[int, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Return at most ``budget`` points of (steps, values), sorted by step, holding ``required``."""
    if steps.size <= budget:
        return steps, values
    must = np.zeros(steps.size, dtype=bool)
    for st, val in required:
        hit = np.flatnonzero((steps == st) & ((values == val) | (np.isnan(values) & np.isnan(val))))
        must[hit[:1]] = True
    finite = np.isfinite(values) & ~_inside_flat_run(values)
    # the last point is required; a non-finite last point is kept beside the finite pick
    n_out = budget - int(must.sum()) - int((~np.isfinite(values) & ~must).any())
    keep = must.copy()
    fidx = np.flatnonzero(finite)
    if fidx.size > n_out >= 4:
        picked = _DOWNSAMPLER.downsample(steps[fidx], values[fidx], n_out=n_out)
        keep[fidx[picked]] = True
    elif n_out >= 4:
        keep[fidx] = True
    nf_rest = np.flatnonzero(~np.isfinite(values) & ~keep)
    if nf_rest.size and keep.sum() < budget:
        keep[nf_rest[-1]] = True  # the latest non-finite point shows where the line is still broken
    while keep.sum() > budget:  # only when many required points coincide with the pick's edges
        drop = np.flatnonzero(keep & ~must)
        keep[drop[len(drop) // 2]] = False
    return steps[keep], values[keep]


def _inside_flat_run(values: np.ndarray) -> np.ndarray:
    """Points equal to both neighbours: they draw nothing the run's two ends don't, so flat
    stretches cost two points and the budget goes where the curve moves."""
    inside = np.zeros(values.size, dtype=bool)
    inside[1:-1] = (values[1:-1] == values[:-2]) & (values[1:-1] == values[2:])
    return inside
