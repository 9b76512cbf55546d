"""How a line looks when drawn, column by column: to compare picks of its points.

A chart of ``WIDTH`` x ``HEIGHT`` pixels draws a line as segments between consecutive drawable
points (finite, and > 0 on a log chart); a drawable point with no drawable neighbour is a dot. In
each pixel column a segment covers the rows between its heights at the column's two edges (or at
its ends). Points are sorted by step, so in a column the pieces of a line without a gap there are
connected: the column shows one span of rows, ``[lo, hi]``. :func:`column_spans` gives each column's
span (the rows from its lowest to its highest piece, also where a gap splits them) and
:func:`span_error` the rows where two drawings differ, as a fraction of the reference's rows: exactly
the pixels that differ wherever a column is one span, for a few NumPy passes over the points (no
image). :func:`kernel` gives the compiled twins of the loops (``_craster.c``, same results) when
they were built and ``CURVEWATCH_PURE_PYTHON`` is not set; else the NumPy code below runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np

try:
    from . import _craster as _CRASTER
except ImportError:  # built without a C compiler: the NumPy code
    _CRASTER = None

__all__ = ["EMPTY_HI", "EMPTY_LO", "HEIGHT", "SIZES", "WIDTH", "Frame", "column_spans", "kernel", "pick_span_error",
           "pieces", "project", "rows_differing", "span_error", "transform"]

WIDTH, HEIGHT = 1000, 400  # the default chart size (about the PNG's chart size)
SIZES = ((1000, 400), (1920, 1080), (3840, 1000))  # the sizes a pick is judged at: PNG, a screen, a 4K panel
EMPTY_LO, EMPTY_HI = HEIGHT + 1, -1  # the span of a column nothing is drawn in (at the default size)


@dataclass(frozen=True)
class Frame:
    """The axes a line is drawn into: x range, transformed y range, y scale."""

    x0: float
    x1: float
    y0: float
    y1: float
    yscale: str = "linear"
    width: int = WIDTH
    height: int = HEIGHT

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, yscale: str = "linear", t: np.ndarray | None = None) -> Frame:
        """The frame of the points (``t``: their values already transformed, if at hand)."""
        t = transform(y, yscale) if t is None else t
        t = t[np.isfinite(t)]
        lo, hi = (float(t.min()), float(t.max())) if t.size else (0.0, 1.0)
        pad = (hi - lo) * 0.05 or 1.0  # matplotlib's default y margin
        x0, x1 = float(x[0]), float(x[-1])
        return cls(x0, x1 if x1 > x0 else x0 + 1.0, lo - pad, hi + pad, yscale)


def kernel() -> ModuleType | None:
    """The compiled drawing kernels, or None (not built, or ``CURVEWATCH_PURE_PYTHON`` set)."""
    return None if os.environ.get("CURVEWATCH_PURE_PYTHON") else _CRASTER


def transform(y: np.ndarray, yscale: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if yscale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = y > 0
            out = np.log10(np.where(shown, y, 1.0))
            out[~shown] = np.nan  # in place: the values np.where(shown, log10, nan) gives
            return out
    if yscale == "symlog":
        return np.sign(y) * np.log10(1.0 + np.abs(y))
    return y


def project(x: np.ndarray, y: np.ndarray, frame: Frame,
            t: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates (column, row) of the points and which of them are drawn (finite); ``t``:
    the values already transformed to ``frame.yscale``, if at hand."""
    w, h = frame.width, frame.height
    # in place, the same operations in the same order: two arrays of the points' size, not eight
    px = np.subtract(np.asarray(x, dtype=np.float64), frame.x0)
    px /= frame.x1 - frame.x0
    px *= w
    np.clip(px, 0, w - 1e-9, out=px)
    py = np.subtract(transform(y, frame.yscale) if t is None else t, frame.y0)
    py /= frame.y1 - frame.y0
    py *= h
    ok = np.isfinite(py)
    py[~ok] = 0.0
    return px, np.clip(py, 0, h - 1e-9, out=py), ok


def pieces(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray,
           yb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pieces of segments (xa, ya) -> (xb, yb) (projected, xa <= xb), one per column each
    crosses: (segment index, column, lowest row, highest row), by segment then column."""
    ca, cb = np.floor(xa).astype(np.int64), np.floor(xb).astype(np.int64)
    counts = cb - ca + 1
    seg = np.repeat(np.arange(xa.size), counts)
    col = ca[seg] + np.arange(seg.size) - np.repeat(np.cumsum(counts) - counts, counts)
    x0, y0 = xa[seg], ya[seg]
    left = np.maximum(x0, col)
    right = np.minimum(xb[seg], col + 1.0)
    dx = xb - xa
    slope = ((yb - ya) / np.where(dx > 0, dx, 1.0))[seg]
    y_left = y0 + slope * (left - x0)
    # two points at the same x (dx == 0): the whole gap between them
    y_right = np.where((dx <= 0)[seg], yb[seg], y0 + slope * (right - x0))
    return (seg, col, np.floor(np.minimum(y_left, y_right)).astype(np.int64),
            np.floor(np.maximum(y_left, y_right)).astype(np.int64))


def column_spans(px: np.ndarray, py: np.ndarray, ok: np.ndarray, skip: np.ndarray | None = None,
                 size: tuple[int, int] = (WIDTH, HEIGHT)) -> tuple[np.ndarray, np.ndarray]:
    """Each column's drawn rows ``(lo, hi)`` for the line through the projected points whose
    ``ok`` is set (``height + 1, EMPTY_HI`` where nothing is drawn), on a chart of ``size``
    (width, height) px; ``skip``: points whose two segments are left out (the rest of the
    drawing, while they move)."""
    c = kernel()
    if c is not None:
        lo, hi = np.empty(size[0], dtype=np.int64), np.empty(size[0], dtype=np.int64)
        c.spans(np.ascontiguousarray(px, dtype=np.float64), np.ascontiguousarray(py, dtype=np.float64),
                np.ascontiguousarray(ok, dtype=bool).view(np.uint8),
                None if skip is None else np.ascontiguousarray(skip, dtype=bool).view(np.uint8), lo, hi, size[1])
        return lo, hi
    lo = np.full(size[0], size[1] + 1, dtype=np.int64)
    hi = np.full(size[0], EMPTY_HI, dtype=np.int64)
    seg = np.flatnonzero(ok[:-1] & ok[1:])
    linked = np.zeros(ok.size, dtype=bool)  # a point on a segment is drawn by it; a lone one is a dot
    linked[seg] = linked[seg + 1] = True
    dots = np.flatnonzero(ok & ~linked)
    if skip is not None:
        seg = seg[~skip[seg] & ~skip[seg + 1]]
    if dots.size:
        col, row = np.floor(px[dots]).astype(np.int64), np.floor(py[dots]).astype(np.int64)
        np.minimum.at(lo, col, row)
        np.maximum.at(hi, col, row)
    if seg.size:
        _, col, r0, r1 = pieces(px[seg], py[seg], px[seg + 1], py[seg + 1])
        starts = np.flatnonzero(np.concatenate(([True], col[1:] != col[:-1])))  # columns never decrease
        cols = col[starts]
        lo[cols] = np.minimum(lo[cols], np.minimum.reduceat(r0, starts))
        hi[cols] = np.maximum(hi[cols], np.maximum.reduceat(r1, starts))
    return lo, hi


def rows_differing(lo: np.ndarray, hi: np.ndarray, ref_lo: np.ndarray, ref_hi: np.ndarray) -> np.ndarray:
    """Per column, the rows drawn by one of the spans and not the other."""
    drawn = np.maximum(hi - lo + 1, 0)
    ref = np.maximum(ref_hi - ref_lo + 1, 0)
    both = np.maximum(np.minimum(hi, ref_hi) - np.maximum(lo, ref_lo) + 1, 0)
    return drawn + ref - 2 * both


def span_error(spans: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray]) -> float:
    """Rows that differ between two drawings' column spans, as a fraction of the reference's rows."""
    ref_rows = int(np.maximum(reference[1] - reference[0] + 1, 0).sum())
    return float(rows_differing(*spans, *reference).sum()) / max(ref_rows, 1)


def pick_span_error(px: np.ndarray, py: np.ndarray, ok: np.ndarray, idx: np.ndarray,
                    reference: tuple[np.ndarray, np.ndarray], size: tuple[int, int] = (WIDTH, HEIGHT)) -> float:
    """:func:`span_error` of the line through the projected points at ``idx`` (increasing) against
    ``reference`` (compiled when built: the same value, no array of the pick's points made)."""
    c = kernel()
    if c is not None:
        return c.pick_error(*(np.ascontiguousarray(a, dtype=np.float64) for a in (px, py)),
                            np.ascontiguousarray(ok, dtype=bool).view(np.uint8),
                            *(np.ascontiguousarray(a, dtype=np.int64) for a in (idx, *reference)), size[1])
    return span_error(column_spans(px[idx], py[idx], ok[idx], size=size), reference)
