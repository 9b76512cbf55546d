"""Drift of the recent inputs from a version's reference profile: PSI and a KS statistic per feature.

    window = DriftWindow(profile, rows=2000)
    window.add(inputs)                       # (rows, features) of one prediction's input
    window.scores()                          # {feature: DriftScore(psi, ks, rows, missing_share)}

- PSI = Σ (live − ref) · ln(live / ref) over the profile's quantile bins, both shares smoothed with
  ``PSI_SMOOTHING`` pseudo-counts (an empty bin stays finite). Rule of thumb: < 0.1 stable, 0.1-0.25 a
  shift, > 0.25 a large shift (the default alert threshold).
- KS is the largest gap between the live and the reference cumulative shares at the profile's bin
  edges: the two-sample KS statistic evaluated at those edges (a lower bound of the exact one).

Guarantees (tests named after them in ``tests/test_serving_drift.py``):
- same_distribution_scores_low_and_shifted_scores_high: a sample of the training distribution scores
  PSI < 0.1, the same sample shifted by two standard deviations PSI > 1 and KS > 0.5.
- drift_window_keeps_the_latest_rows: the window is a ring of the last ``rows`` rows (bounded memory).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .profile import FeatureProfile, ReferenceProfile, smoothed_fractions

__all__ = ["DriftScore", "DriftWindow", "ks_statistic", "psi"]


class DriftScore(NamedTuple):
    psi: float
    ks: float
    rows: int
    missing_share: float


def psi(feature: FeatureProfile, values: np.ndarray) -> float:
    """Population stability index of ``values`` (finite ones) against ``feature``'s bins; NaN without values."""
    finite = values[np.isfinite(values)]
    if not len(finite) or not feature.count:
        return math.nan
    live = smoothed_fractions(feature.bin_counts(finite))
    ref = smoothed_fractions(np.asarray(feature.fractions) * feature.count)
    return float(np.sum((live - ref) * np.log(live / ref)))


def ks_statistic(feature: FeatureProfile, values: np.ndarray) -> float:
    """max |F_live − F_ref| at the profile's bin edges; NaN without values."""
    finite = values[np.isfinite(values)]
    if not len(finite) or not feature.count:
        return math.nan
    live = np.cumsum(feature.bin_counts(finite))[:-1] / len(finite)
    ref = np.cumsum(feature.fractions)[:-1]
    return float(np.max(np.abs(live - ref))) if len(ref) else 0.0


class DriftWindow:
    """The last ``rows`` input rows (a ring buffer of the profiled columns), scored against the profile."""

    def __init__(self, profile: ReferenceProfile, rows: int) -> None:
        if rows < 1:
            raise ValueError(f"The drift window must hold at least 1 row, got {rows}.")
        self.profile = profile
        self._columns = np.asarray(profile.columns, dtype=np.intp)
        self._ring = np.full((rows, len(profile.columns)), np.nan)
        self._next = 0  # where the next row goes
        self._filled = 0

    def add(self, inputs: np.ndarray) -> None:
        """Append the profiled columns of ``inputs`` (``(rows, features)`` or one row)."""
        block = np.asarray(inputs, dtype=np.float64)
        block = block[None] if block.ndim == 1 else block
        block = block[-len(self._ring):, self._columns]
        n, size = len(block), len(self._ring)
        end = self._next + n
        if end <= size:
            self._ring[self._next:end] = block
        else:
            first = size - self._next
            self._ring[self._next:] = block[:first]
            self._ring[:n - first] = block[first:]
        self._next = end % size
        self._filled = min(size, self._filled + n)

    def rows(self) -> np.ndarray:
        """The rows held, oldest first."""
        if self._filled < len(self._ring):
            return self._ring[:self._filled].copy()
        return np.concatenate([self._ring[self._next:], self._ring[:self._next]])

    def scores(self) -> dict[str, DriftScore]:
        """PSI, KS, rows and missing share of each profiled feature over the rows held."""
        held = self._ring[:self._filled]
        out = {}
        for i, feature in enumerate(self.profile.features):
            values = held[:, i]
            missing = float(np.mean(~np.isfinite(values))) if len(values) else math.nan
            out[feature.name] = DriftScore(psi(feature, values), ks_statistic(feature, values), len(values), missing)
        return out
