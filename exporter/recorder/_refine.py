"""Local search on a pick: move each free point to where the drawing looks most like the candidates.

A pick of ``budget`` points out of the M4 candidates (MinMaxLTTB or M4, see ``_select``) puts each
point on a bucket's extreme, but with at most one point per pixel column the drawing depends on
*where* its segments cross the columns. A sweep tries, for every third picked point at once (its
two neighbours stay where they are, so each try changes only its own two segments), every drawable
candidate between its neighbours (``REFINE_ALTERNATIVES`` of them, evenly spread, when there are
more; fewer when a sweep moves more than ``REFINE_TRIES / REFINE_ALTERNATIVES`` points), and
moves it to the one whose two segments, with the rest of the drawing, differ from the candidates'
drawing in the fewest rows (``_raster.rows_differing``) over the columns they cross;
ties keep the point where it is, then take the earliest step. With ``hold_deviation`` (the
default) a move must also keep the interpolation deviation between the point's neighbours (the
summed distance of the drawable candidates there from the line through them) at or under what it
was: the first of its ``REFINE_CHECKED`` cheapest alternatives that does is taken, else the point
stays; the moved points' stretches do not overlap, so the whole line's interpolation deviation never
grows. A point whose columns already
draw exactly like the candidates is left alone. Three sweeps (one per third) make a
round; ``REFINE_ROUNDS`` rounds at most, fewer when a round moves nothing. Frozen points (the
required ones, the spikes) and the points next to a gap in the drawing never move, and the number
of points never changes. The caller keeps the result only when it draws closer than the pick it
started from.
"""

from __future__ import annotations

import numpy as np

from ._raster import HEIGHT, WIDTH, column_spans, kernel, pieces, rows_differing

__all__ = ["REFINE_ALTERNATIVES", "REFINE_CHECKED", "REFINE_ROUNDS", "REFINE_TRIES", "drawable_ranks", "refine"]

REFINE_ROUNDS = 1  # a second round gains ~1% more error for ~30% more finalize time
REFINE_ALTERNATIVES = 32  # candidates tried per point and sweep (between its two neighbours) ...
REFINE_CHECKED = 3  # the cheapest alternatives of a point checked for the interpolation deviation, at most
REFINE_TRIES = 16_000  # ... and at most this many per sweep in all (fewer each for a large budget: bounded cost)


def refine(px: np.ndarray, py: np.ndarray, ok: np.ndarray, keep: np.ndarray, frozen: np.ndarray,
           reference: tuple[np.ndarray, np.ndarray], size: tuple[int, int] = (WIDTH, HEIGHT),
           hold_deviation: bool = True, ranks: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """A copy of the pick ``keep`` (a mask over the candidates ``px, py`` projected on a chart of
    ``size`` px; ``ok``: drawn) with its free points moved to draw closer to ``reference`` (the
    candidates' column spans); ``ranks``: :func:`drawable_ranks` of ``ok``, if already made."""
    px, py = np.ascontiguousarray(px, dtype=np.float64), np.ascontiguousarray(py, dtype=np.float64)
    pick = np.flatnonzero(keep)
    drawable, rank = drawable_ranks(ok) if ranks is None else ranks
    c = kernel()
    if c is not None and REFINE_ALTERNATIVES < 256:  # the same moves, compiled: every sweep in one call
        c.search(px, py, np.ascontiguousarray(ok, dtype=bool).view(np.uint8), pick,
                 np.ascontiguousarray(frozen, dtype=bool).view(np.uint8), drawable, rank,
                 *(np.ascontiguousarray(r, dtype=np.int64) for r in reference), size[1], REFINE_ROUNDS,
                 REFINE_ALTERNATIVES, REFINE_TRIES, REFINE_CHECKED, hold_deviation)
    else:
        for _ in range(REFINE_ROUNDS):
            moved = 0
            for third in range(3):
                moved += _sweep(px, py, ok, pick, frozen, reference, drawable, rank, third, size, hold_deviation)
            if not moved:
                break
    out = np.zeros(keep.size, dtype=bool)
    out[pick] = True
    return out


def drawable_ranks(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The drawable candidates' positions, and each candidate's position among the drawable ones."""
    if ok.all():  # the common case: both are the positions (np.cumsum costs ~10 ns a value here)
        every = np.arange(ok.size, dtype=np.int64)
        return every, every
    return np.flatnonzero(ok), np.cumsum(ok, dtype=np.int64) - 1


def _sweep(px: np.ndarray, py: np.ndarray, ok: np.ndarray, pick: np.ndarray, frozen: np.ndarray,
           reference: tuple[np.ndarray, np.ndarray], drawable: np.ndarray, rank: np.ndarray, third: int,
           size: tuple[int, int], hold_deviation: bool) -> int:
    """Move every third free picked point (starting at pick position ``1 + third``) in place; return
    how many moved."""
    n = pick.size
    k = np.arange(1 + third, n - 1, 3)
    k = k[~frozen[pick[k]] & ok[pick[k - 1]] & ok[pick[k]] & ok[pick[k + 1]]]
    if not k.size:
        return 0
    # a point whose columns already draw exactly like the reference has nothing to gain
    wrong = np.concatenate(([0], np.cumsum(rows_differing(*column_spans(px[pick], py[pick], ok[pick], size=size),
                                                          *reference))))
    first, last = np.floor(px[pick[k - 1]]).astype(np.int64), np.floor(px[pick[k + 1]]).astype(np.int64)
    k = k[wrong[last + 1] > wrong[first]]
    if not k.size:
        return 0
    moving = np.zeros(n, dtype=bool)
    moving[k] = True
    fixed_lo, fixed_hi = column_spans(px[pick], py[pick], ok[pick], skip=moving, size=size)  # the rest of the drawing
    cap = max(2, min(REFINE_ALTERNATIVES, REFINE_TRIES // k.size))
    # the alternatives of each moving point: drawable candidates strictly between its neighbours
    a, b = rank[pick[k - 1]], rank[pick[k + 1]]
    between = b - a - 1
    tried = np.minimum(between, cap)
    count = tried + 1  # the point where it is comes last
    owner = np.repeat(np.arange(k.size), count)
    nth = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    spread = (nth * between[owner]) // np.maximum(tried[owner], 1)
    alt = np.where(nth < tried[owner], drawable[np.minimum(a[owner] + 1 + spread, drawable.size - 1)],
                   pick[k][owner])
    left, right = pick[k - 1][owner], pick[k + 1][owner]
    cost = _costs(px, py, left, alt, right, (fixed_lo, fixed_hi), reference, size[0])
    here = np.cumsum(count) - 1
    order = np.lexsort((alt, cost, owner))  # per point: the cheapest, then the earliest step
    # of its REFINE_CHECKED cheapest alternatives, the first that draws closer than where it is and does not
    # increase the interpolation deviation between its neighbours (_judge's fourth measure); none: it stays
    top = np.minimum(count, REFINE_CHECKED)
    tried_at = np.repeat(np.cumsum(count) - count, top) + np.arange(top.sum()) - np.repeat(np.cumsum(top) - top, top)
    checked = np.concatenate((order[tried_at], here))  # the alternatives checked, then each point where it is
    who = np.concatenate((np.repeat(np.arange(k.size), top), np.arange(k.size)))
    n_top = tried_at.size
    ok = cost[checked[:n_top]] < cost[here][who[:n_top]]
    if hold_deviation:
        dev = _deviation(px, py, drawable, a[who], between[who], left[checked], alt[checked], right[checked])
        ok &= dev[:n_top] <= dev[n_top:][who[:n_top]]
    first_ok = np.full(k.size, n_top)
    np.minimum.at(first_ok, who[:n_top][ok], np.flatnonzero(ok))
    better = first_ok < n_top
    pick[k[better]] = alt[checked[first_ok[better]]]  # each stays between its neighbours: the pick stays sorted
    return int(better.sum())


def _costs(px: np.ndarray, py: np.ndarray, left: np.ndarray, alt: np.ndarray, right: np.ndarray,
           fixed: tuple[np.ndarray, np.ndarray], reference: tuple[np.ndarray, np.ndarray], width: int) -> np.ndarray:
    """Per alternative, the rows differing from ``reference`` over the columns its two segments
    (left, alt) and (alt, right) cross, drawn with the rest of the drawing (``fixed``)."""
    m = alt.size
    # two segments per alternative, (left, alt) then (alt, right): columns never decrease within one
    xa, ya, xb, yb = (np.empty(2 * m) for _ in range(4))
    xa[0::2], xa[1::2], ya[0::2], ya[1::2] = px[left], px[alt], py[left], py[alt]
    xb[0::2], xb[1::2], yb[0::2], yb[1::2] = px[alt], px[right], py[alt], py[right]
    seg, col, r0, r1 = pieces(xa, ya, xb, yb)
    which = seg >> 1
    key = which * width + col
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    cols = col[starts]
    lo = np.minimum(np.minimum.reduceat(r0, starts), fixed[0][cols])
    hi = np.maximum(np.maximum.reduceat(r1, starts), fixed[1][cols])
    return np.bincount(which[starts], weights=rows_differing(lo, hi, reference[0][cols], reference[1][cols]),
                       minlength=m)


def _deviation(px: np.ndarray, py: np.ndarray, drawable: np.ndarray, first: np.ndarray, between: np.ndarray,
               left: np.ndarray, alt: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per alternative, the summed |row - the line left -> alt -> right at its column| of the
    drawable candidates strictly between left and right (ranks ``first + 1 .. first + between``)."""
    owner = np.repeat(np.arange(alt.size), between)
    c = drawable[first[owner] + 1 + np.arange(owner.size) - np.repeat(np.cumsum(between) - between, between)]
    x, y = px[c], py[c]
    on_left = x <= px[alt][owner]
    xa = np.where(on_left, px[left][owner], px[alt][owner])
    ya = np.where(on_left, py[left][owner], py[alt][owner])
    xb = np.where(on_left, px[alt][owner], px[right][owner])
    yb = np.where(on_left, py[alt][owner], py[right][owner])
    dx = xb - xa
    line = ya + (yb - ya) * np.divide(x - xa, dx, out=np.zeros_like(dx), where=dx > 0)
    return np.bincount(owner, weights=np.abs(y - line), minlength=alt.size)
