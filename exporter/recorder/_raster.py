"""A small line rasteriser: how a line of points looks when drawn, to compare two picks of it.

The final pick draws each candidate selection at a chart's size and keeps the one whose pixels
differ least from the drawing of every candidate (M4 with several buckets per pixel column draws
like the full series). Segments between consecutive finite points cover, in each pixel column
they cross, the rows between their end heights in that column; non-finite values are gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HEIGHT", "WIDTH", "Frame", "pixel_error", "rasterise", "transform"]

WIDTH, HEIGHT = 1000, 400  # the size a chart is judged at (about the PNG's chart size)


@dataclass(frozen=True)
class Frame:
    """The axes a line is drawn into: x range, transformed y range, y scale."""

    x0: float
    x1: float
    y0: float
    y1: float
    yscale: str = "linear"

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, yscale: str = "linear") -> Frame:
        t = transform(y, yscale)
        t = t[np.isfinite(t)]
        lo, hi = (float(t.min()), float(t.max())) if t.size else (0.0, 1.0)
        pad = (hi - lo) * 0.05 or 1.0  # matplotlib's default y margin
        x0, x1 = float(x[0]), float(x[-1])
        return cls(x0, x1 if x1 > x0 else x0 + 1.0, lo - pad, hi + pad, yscale)


def transform(y: np.ndarray, yscale: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if yscale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
    if yscale == "symlog":
        return np.sign(y) * np.log10(1.0 + np.abs(y))
    return y


def rasterise(x: np.ndarray, y: np.ndarray, frame: Frame) -> np.ndarray:
    """A (WIDTH, HEIGHT) boolean image (column by column) of the line through (x, y), x sorted."""
    px = np.clip((np.asarray(x, dtype=np.float64) - frame.x0) / (frame.x1 - frame.x0) * WIDTH, 0, WIDTH - 1e-9)
    py = (transform(y, frame.yscale) - frame.y0) / (frame.y1 - frame.y0) * HEIGHT
    ok = np.isfinite(py)
    py = np.clip(np.where(ok, py, 0.0), 0, HEIGHT - 1e-9)
    cols, lo, hi = [np.floor(px[ok])], [py[ok]], [py[ok]]  # every finite point is at least a dot
    seg = np.flatnonzero(ok[:-1] & ok[1:])
    if seg.size:
        xa, xb, ya, yb = px[seg], px[seg + 1], py[seg], py[seg + 1]
        ca, cb = np.floor(xa).astype(np.int64), np.floor(xb).astype(np.int64)
        counts = cb - ca + 1
        which = np.repeat(np.arange(seg.size), counts)
        col = ca[which] + np.arange(which.size) - np.repeat(np.cumsum(counts) - counts, counts)
        left = np.maximum(xa[which], col)
        right = np.minimum(xb[which], col + 1.0)
        span = np.where(xb > xa, xb - xa, 1.0)[which]
        y_left = ya[which] + (yb - ya)[which] * (left - xa[which]) / span
        y_right = ya[which] + (yb - ya)[which] * (right - xa[which]) / span
        cols.append(col.astype(np.float64))
        lo.append(np.minimum(y_left, y_right))
        hi.append(np.maximum(y_left, y_right))
    c = np.concatenate(cols).astype(np.int64)
    r0 = np.floor(np.concatenate(lo)).astype(np.int64)
    r1 = np.floor(np.concatenate(hi)).astype(np.int64)
    size = (HEIGHT + 1) * WIDTH  # column-major: each column's rows are contiguous, a flat cumsum fills them
    diff = np.bincount(c * (HEIGHT + 1) + r0, minlength=size)
    diff -= np.bincount(c * (HEIGHT + 1) + r1 + 1, minlength=size)
    return (np.cumsum(diff, out=diff) > 0).reshape(WIDTH, HEIGHT + 1)[:, :-1]


def pixel_error(image: np.ndarray, reference: np.ndarray) -> float:
    """Pixels that differ, as a fraction of the reference's drawn pixels."""
    return float(np.count_nonzero(image ^ reference)) / max(int(np.count_nonzero(reference)), 1)
