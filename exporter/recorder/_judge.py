"""The final pick's judge: how close a pick of the candidates draws to all of them, at every chart
size and between its points, as ratios to a reference pick (MinMaxLTTB's).

A pick's errors are its span error (``_raster``: differing rows / the candidates' rows) at each of
``SIZES`` (a PNG, a 1920x1080 screen, a 3840x1000 panel: no one chart size decides) and its
interpolation deviation: the mean distance, in drawn units (log10 on a log chart) / the drawn
range, between each drawable candidate and the pick's line at that step. :func:`ratios` divides
them by the reference pick's, so a pick whose ratios are all at most 1 is at least as close as the
reference by every measure.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._raster import SIZES, Frame, column_spans, kernel, pick_span_error, project, transform
from ._refine import drawable_ranks

__all__ = ["Judge", "interp_gaps", "ratios"]

UNMATCHED = 1e6  # the ratio of a measure the reference gets exactly right and a pick does not (per unit error)


class Judge:
    """The candidates drawn once at each of ``SIZES``; :meth:`errors` scores a pick (a mask over them).

    ``views``: per size, the candidates' (columns, rows, column spans, size); ``ok``: which are drawn
    and ``ranks`` (``_refine.drawable_ranks``) the same at every size (a drawn value's row is finite
    at one size exactly when at all: the sizes only scale its place in the frame)."""

    def __init__(self, steps: np.ndarray, values: np.ndarray, yscale: str, t: np.ndarray | None = None) -> None:
        t = transform(values, yscale) if t is None else t  # ``t``: the values transformed, if at hand
        self.frame = Frame.of(steps, values, yscale, t)
        self.views = []
        for i, (w, h) in enumerate(SIZES):
            px, py, ok = project(steps, values, replace(self.frame, width=w, height=h), t)
            if i == 0:
                self.ok = ok  # the other sizes' are the same
            self.views.append((px, py, column_spans(px, py, self.ok, size=(w, h)), (w, h)))
        self.ranks = drawable_ranks(self.ok)
        self.drawable = np.isfinite(t)
        self.every = bool(self.drawable.all())  # the common case: no copy of the values
        self.x = (steps if self.every else steps[self.drawable]).astype(np.float64)
        self.t = t if self.every else t[self.drawable]
        self._gaps = np.empty(self.x.size)  # interp_gaps' output, made once for every pick scored
        self.span = float(self.t.max() - self.t.min()) if self.t.size else 0.0
        self.span = self.span if np.isfinite(self.span) and self.span > 0 else 1.0

    def errors(self, keep: np.ndarray) -> np.ndarray:
        """The span error at each size, then the interpolation deviation."""
        idx = np.flatnonzero(keep)  # one pass over the candidates; the views draw the pick's few points
        out = [pick_span_error(px, py, self.ok, idx, reference, size) for px, py, reference, size in self.views]
        k = idx if self.every else np.flatnonzero(keep[self.drawable])
        if k.size >= 2 and self.x.size:
            out.append(float(np.mean(interp_gaps(self.x, self.t, k, self._gaps))) / self.span)
        else:
            out.append(0.0)
        return np.asarray(out)


def interp_gaps(x: np.ndarray, t: np.ndarray, k: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``|np.interp(x, x[k], t[k]) - t|`` (``x`` sorted, ``k`` increasing; compiled when built: the same values,
    the knots walked along ``x`` instead of searched for each point), into ``out`` if given (float64, x's size)."""
    c = kernel()
    line = np.empty(x.size) if out is None else out
    if c is not None:
        c.interp_gaps(*(np.ascontiguousarray(a, dtype=np.float64) for a in (x, t)),
                      np.ascontiguousarray(k, dtype=np.int64), line)
        return line
    np.subtract(np.interp(x, x[k], t[k]), t, out=line)
    return np.abs(line, out=line)


def ratios(errors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each error / the reference's (0 where both are 0; large where only the reference's is)."""
    safe = np.where(reference > 0, reference, 1.0)
    out = np.where(reference > 0, errors / safe, errors * UNMATCHED)
    return np.where(np.isnan(out), np.inf, out)  # an error that overflowed (values near the float limit)
