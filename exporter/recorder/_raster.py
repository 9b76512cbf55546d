"""A small line rasteriser: how a line of points looks when drawn, to compare two picks of it.

The final pick draws each candidate selection at a chart's size and keeps the one whose pixels
differ least from the drawing of every candidate (M4 with several buckets per pixel column draws
like the full series). Segments between consecutive finite points cover, in each pixel column
they cross, the rows between their end heights in that column; non-finite values are gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HEIGHT", "WIDTH", "Frame", "pixel_error", "project", "rasterise", "rasterise_projected", "transform"]

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


def project(x: np.ndarray, y: np.ndarray, frame: Frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates (column, row) of the points and which of them are drawn (finite)."""
    px = np.clip((np.asarray(x, dtype=np.float64) - frame.x0) / (frame.x1 - frame.x0) * WIDTH, 0, WIDTH - 1e-9)
    py = (transform(y, frame.yscale) - frame.y0) / (frame.y1 - frame.y0) * HEIGHT
    ok = np.isfinite(py)
    return px, np.clip(np.where(ok, py, 0.0), 0, HEIGHT - 1e-9), ok


def rasterise(x: np.ndarray, y: np.ndarray, frame: Frame) -> np.ndarray:
    """A (WIDTH, HEIGHT) boolean image (column by column) of the line through (x, y), x sorted."""
    return rasterise_projected(*project(x, y, frame))


def rasterise_projected(px: np.ndarray, py: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """:func:`rasterise` of points already projected by :func:`project` (a pick: a subset of them)."""
    linked = np.zeros(ok.size, dtype=bool)  # a point on a segment is drawn by it; a lone one is a dot
    seg = np.flatnonzero(ok[:-1] & ok[1:])
    linked[seg] = linked[seg + 1] = True
    dots = ok & ~linked
    cols, lo, hi = [np.floor(px[dots])], [py[dots]], [py[dots]]
    if seg.size:
        xa, xb, ya, yb = px[seg], px[seg + 1], py[seg], py[seg + 1]
        ca, cb = np.floor(xa).astype(np.int64), np.floor(xb).astype(np.int64)
        counts = cb - ca + 1
        which = np.repeat(np.arange(seg.size), counts)
        col = ca[which] + np.arange(which.size) - np.repeat(np.cumsum(counts) - counts, counts)
        left = np.maximum(xa[which], col)
        right = np.minimum(xb[which], col + 1.0)
        dx = xb - xa
        slope = ((yb - ya) / np.where(dx > 0, dx, 1.0))[which]
        vertical = (dx <= 0)[which]  # two points in one column at the same x: the whole gap between them
        y_left = ya[which] + slope * (left - xa[which])
        y_right = np.where(vertical, yb[which], ya[which] + slope * (right - xa[which]))
        cols.append(col.astype(np.float64))
        lo.append(np.minimum(y_left, y_right))
        hi.append(np.maximum(y_left, y_right))
    c = np.concatenate(cols).astype(np.int64) * (HEIGHT + 1)
    r0 = np.floor(np.concatenate(lo)).astype(np.int64)
    r1 = np.floor(np.concatenate(hi)).astype(np.int64)
    size = (HEIGHT + 1) * WIDTH  # column-major: each column's rows are contiguous, a flat cumsum fills them
    diff = np.bincount(c + r0, minlength=size)
    diff -= np.bincount(c + r1 + 1, minlength=size)
    return (np.cumsum(diff, out=diff) > 0).reshape(WIDTH, HEIGHT + 1)[:, :-1]


def pixel_error(image: np.ndarray, reference: np.ndarray) -> float:
    """Pixels that differ, as a fraction of the reference's drawn pixels."""
    return float(np.count_nonzero(image ^ reference)) / max(int(np.count_nonzero(reference)), 1)
