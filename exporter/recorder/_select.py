"""The final pick: ``budget`` points out of the M4 candidates, by MinMaxLTTB (tsdownsample) or M4,
then moved where they draw closest to the candidates.

Streaming M4 keeps 4-8x the budget as candidates (and at least two buckets per pixel column);
MinMaxLTTB (van der Donckt et al., 2023) picks the points that keep the drawn shape; a picked point
that lies between two picked neighbours of the same value draws nothing they don't, so it is
dropped and the pick is redone with the freed points (flat stretches end up with two points, and
the budget goes where the curve moves). The required points (first, last, global min and max,
first non-finite) and the spikes (``_spikes``; among the candidates and the buckets' runners-up,
which join the candidates when they are spikes: all of them up to half the budget, else the largest
half-budget of them, never more than the room the required points leave) are always kept.

MinMaxLTTB's result moves by several percent with its pre-selection ratio, so two such picks
(ratios 4 and 2) are judged (``_judge``: span errors at each chart size of ``SIZES`` and the
interpolation deviation, as ratios to the ratio-4 pick's) with two M4 picks (first, last, min, max
of equal x ranges; one with ranges of whole 1000 px columns). Among the picks at least as close as
the ratio-4 pick by every measure, the closest wins (ties go to the first option). Unless it
already draws exactly like them, a local search (``_refine``) then moves its free points, one at a
time with their neighbours fixed, to the candidate between those neighbours that draws closest
without increasing the interpolation deviation there, at the other size it draws farthest at and
then at 1000x400; a moved pick is kept only when it is closer in all and no measure passes the
reference's (when one does, the search is redone from the same pick by the drawing alone, and kept on
the same terms). Every step is deterministic. A short line
(``judged=False``) takes the ratio-4 pick alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

from ._judge import Judge, choose, ratios
from ._raster import WIDTH, Frame, transform
from ._refine import refine
from ._spikes import find_spikes, largest

__all__ = ["select_points"]

_DOWNSAMPLER = MinMaxLTTBDownsampler()
# its compiled int64-step/float64-value function, called straight: the public downsample() spends ~175 us a call
# checking dtypes (more than the pass itself on a short line); None on a tsdownsample without it (the public call)
_I64_F64 = getattr(getattr(_DOWNSAMPLER, "mod_single_core", None), "downsample_i64_f64", None)
SPIKE_SHARE = 2  # spikes kept: all of them up to budget // SPIKE_SHARE, else the largest that many
SPIKE_TOLERANCE = 0.03  # a pick drawn up to 3% worse wins when it keeps more spikes (beyond the half kept)
REPICKS = 6  # at most this many re-picks with the points freed by flat stretches
MINMAX_RATIOS = (4, 2)  # MinMaxLTTB pre-selection ratios: a pick each, each judged once
REFERENCE = 2  # the option every other is measured against: MinMaxLTTB at ratio 4 (picks: M4 x2, then MINMAX_RATIOS)


def select_points(
    steps: np.ndarray, values: np.ndarray, budget: int, required: Sequence[tuple[int, float]],
    yscale: str = "linear", runners_up: tuple[np.ndarray, np.ndarray] | None = None, judged: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return at most ``budget`` points of (steps, values), sorted by step, holding ``required``;
    ``yscale`` is the scale the line is drawn at; ``runners_up``: the buckets' second extremes
    (sorted by step), of which those that are spikes among the candidates join them; ``judged``
    False: the reference pick alone, nothing judged (a short line: see ``Line.curve``)."""
    # Finite values near the float limit (|v| ~ 1e308) make spans and differences overflow to inf: the
    # required points are kept all the same, spikes and the raster comparison just see an infinite span.
    with np.errstate(over="ignore", invalid="ignore"):
        t = None  # the values as drawn, once made
        if runners_up is not None and runners_up[0].size:
            steps, values, t = _with_spiky_runners_up(steps, values, *runners_up, yscale)
        if steps.size <= budget:
            return steps, values
        return _select(steps, values, budget, required, yscale, judged, t)


def _with_spiky_runners_up(steps: np.ndarray, values: np.ndarray, extra_steps: np.ndarray,
                           extra_values: np.ndarray, yscale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidates with the runners-up that are spikes among them (``_spikes``) put in, in step order
    (after a candidate of the same step); a runner-up equal to a candidate is left out. Also their
    values as drawn (``transform``)."""
    at = np.searchsorted(steps, extra_steps, side="right")
    where = at + np.arange(at.size)  # positions in the merged arrays (what np.insert(steps, at, ...) gives)
    extra = np.zeros(steps.size + at.size, dtype=bool)
    extra[where] = True
    s, v = np.empty(extra.size, dtype=steps.dtype), np.empty(extra.size, dtype=values.dtype)
    s[where], v[where] = extra_steps, extra_values
    s[~extra], v[~extra] = steps, values
    same = (where > 0) & (s[where - 1] == s[where]) & (v[where - 1] == v[where])
    extra[where[same]] = False  # a duplicate: dropped below, as a non-spike runner-up is
    drop = np.zeros(s.size, dtype=bool)
    drop[where[same]] = True
    fidx = np.flatnonzero(np.isfinite(v) & ~drop)
    t = transform(v, yscale)
    drawn = t[fidx]
    shown = np.flatnonzero(np.isfinite(drawn))
    found, _ = find_spikes(drawn[shown])
    spike = np.zeros(s.size, dtype=bool)
    spike[fidx[shown[found]]] = True
    keep = ~drop & (~extra | spike)
    return s[keep], v[keep], t[keep]


def _select(steps: np.ndarray, values: np.ndarray, budget: int, required: Sequence[tuple[int, float]],
            yscale: str, judged: bool, t: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    must = np.zeros(steps.size, dtype=bool)
    for st, val in required:
        hit = np.flatnonzero((steps == st) & ((values == val) | (np.isnan(values) & np.isnan(val))))
        must[hit[:1]] = True
    finite = np.isfinite(values)
    fidx = np.flatnonzero(finite)
    t = transform(values, yscale) if t is None else t  # once: the judge draws the same values
    drawn = t[fidx]
    shown = np.flatnonzero(np.isfinite(drawn))  # a log chart leaves values <= 0 out
    found, size = find_spikes(drawn[shown])
    nonfinite = np.flatnonzero(~finite)
    # the latest non-finite point is kept beside the pick (where the line is still broken)
    nonfinite_extra = int(nonfinite.size > 0 and not must[nonfinite[-1]])
    # spikes take at most half the budget, and never the places of the required points
    room = min(budget // SPIKE_SHARE, budget - int(must.sum()) - nonfinite_extra)
    must[fidx[shown[largest(found, size, room)]]] = True
    spiky = np.zeros(steps.size, dtype=bool)  # every spike, kept or not (more than half the budget)
    spiky[fidx[shown[found]]] = True
    n_out = budget - nonfinite_extra - int((must & ~finite).sum())
    if fidx.size <= n_out:
        keep = must.copy()
        keep[fidx] = True
    elif not judged:
        keep = _keep(steps, values, fidx, must, n_out, MINMAX_RATIOS[0])
    else:
        judge = Judge(steps, values, yscale, t)  # once: every pick is a subset of the candidates
        fs, fv, memo = steps[fidx], values[fidx], {}
        options = [_m4_keep(fs, fv, fidx, must, n_out, judge.frame, aligned, memo) for aligned in (True, False)]
        options += [_keep(steps, values, fidx, must, n_out, r) for r in MINMAX_RATIOS]
        errors = [judge.errors(o) for o in options[:1]]
        for i in range(1, len(options)):  # the same pick (the memo's) is judged once
            errors.append(errors[i - 1] if options[i] is options[i - 1] else judge.errors(options[i]))
        reference = errors[REFERENCE]
        rs = [ratios(e, reference) for e in errors]
        chosen = choose(rs, [int((o & spiky).sum()) for o in options], REFERENCE, SPIKE_TOLERANCE)
        keep, at = options[chosen], rs[chosen]
        # then move its free points where it draws closer (_refine): at the other size than the PNG's it draws
        # farthest at, then, from there, at the PNG's size; the closest of these that no measure puts past the reference
        # (nor farther than the chosen pick) is kept
        bound, moving, now, sizes = max(1.0, at.max()), keep, at, len(judge.views)
        for step in range(min(2, sizes)):
            view = 0 if step == 1 else 1 + int(np.argmax(now[1:sizes]))
            if now[view] == 0.0:
                continue
            px, py, drawn_ok, spans, size = judge.views[view]
            start = moving
            for hold in (True, False):  # moves that keep the deviation; else (rejected) any move that draws closer
                moving = refine(px, py, drawn_ok, start, must | spiky, spans, size, hold_deviation=hold)
                now = ratios(judge.errors(moving), reference)
                if now.sum() < at.sum() and now.max() <= bound:
                    keep, at = moving, now
                    break
    keep = keep.copy()
    nf_rest = np.flatnonzero(~finite & ~keep)
    if nf_rest.size and keep.sum() < budget:
        keep[nf_rest[-1]] = True  # the latest non-finite point shows where the line is still broken
    while keep.sum() > budget:  # only when the second pick took other required points' places
        drop = np.flatnonzero(keep & ~must)
        keep[drop[len(drop) // 2]] = False
    return steps[keep], values[keep]


def _keep(steps: np.ndarray, values: np.ndarray, fidx: np.ndarray, must: np.ndarray, n_out: int,
          ratio: int) -> np.ndarray:
    """The required points plus a pick of the finite ones that leaves room for those it misses."""
    keep = must.copy()
    fs, fv = steps[fidx], values[fidx]
    # the pick holds first and last; each other required point that one MinMaxLTTB pass misses costs a point
    first = _minmax_lttb(fs, fv, n_out, ratio)
    missing = int(must[fidx].sum()) - int(must[fidx[first]].sum())
    picked = _pick(fs, fv, n_out - missing, ratio, first if not missing else None)  # the same pass: not redone
    keep[fidx[picked]] = True
    return keep


def _m4_keep(fs: np.ndarray, fv: np.ndarray, fidx: np.ndarray, must: np.ndarray, n_out: int, frame: Frame,
             aligned: bool, memo: dict[int, tuple[np.ndarray, int]] | None = None) -> np.ndarray:
    """The required points plus M4 (first, last, min, max) of the finite candidates in equal
    x ranges: as many ranges as fit in ``n_out`` points with the required ones (``aligned``: a
    whole number of pixel columns each, so each range draws exactly like its candidates). ``memo``:
    the picks already made of the same points, by number of ranges (the aligned and the plain pick
    often try the same numbers: the same pick, made once)."""
    memo = {} if memo is None else memo
    groups = max(1, n_out // 4)
    for _ in range(4):
        g = WIDTH // -(-WIDTH // groups) if aligned else groups  # WIDTH // ceil(WIDTH / groups)
        if g not in memo:
            memo[g] = _m4_ranges(fs, fv, fidx, must, frame, g)
        keep, total = memo[g]
        if total <= n_out or groups == 1:
            return keep
        groups = max(1, int(groups * n_out / total) - 1)
    return keep


def _m4_ranges(fs: np.ndarray, fv: np.ndarray, fidx: np.ndarray, must: np.ndarray, frame: Frame,
               g: int) -> tuple[np.ndarray, int]:
    """The required points plus M4 of the finite candidates in ``g`` equal x ranges, and how many."""
    col = np.clip(((fs - frame.x0) / (frame.x1 - frame.x0) * g).astype(np.int64), 0, g - 1)
    starts = np.flatnonzero(np.concatenate(([True], col[1:] != col[:-1])))
    counts = np.diff(np.append(starts, fs.size))
    keep = must.copy()
    keep[fidx[starts]] = keep[fidx[starts + counts - 1]] = True
    for reduce in (np.minimum, np.maximum):
        ext = reduce.reduceat(fv, starts)
        hits = np.flatnonzero(fv == np.repeat(ext, counts))
        keep[fidx[hits[np.searchsorted(hits, starts)]]] = True  # the first of each range
    return keep, int(keep.sum())


def _pick(steps: np.ndarray, values: np.ndarray, n_out: int, ratio: int,
          first: np.ndarray | None = None) -> np.ndarray:
    """Indices of a MinMaxLTTB pick of at most ``n_out`` points, flat stretches thinned to their ends
    (``first``: the MinMaxLTTB pass of ``n_out`` points, if already made)."""
    target = n_out
    best = _without_flat(_minmax_lttb(steps, values, target, ratio) if first is None else first, values)
    for _ in range(REPICKS):
        if best.size >= n_out or target >= steps.size:
            break
        target = min(steps.size, target + n_out - best.size)
        more = _without_flat(_minmax_lttb(steps, values, target, ratio), values)
        if more.size > n_out:
            break
        best = more
    return best


def _minmax_lttb(steps: np.ndarray, values: np.ndarray, n_out: int, ratio: int) -> np.ndarray:
    if n_out >= steps.size:
        return np.arange(steps.size)
    if n_out < 4:
        return np.array([0, steps.size - 1])
    if _I64_F64 is not None and steps.dtype == np.int64 and values.dtype == np.float64:
        return np.asarray(_I64_F64(np.ascontiguousarray(steps), np.ascontiguousarray(values), n_out, ratio=ratio))
    return np.asarray(_DOWNSAMPLER.downsample(steps, values, n_out=n_out, minmax_ratio=ratio))


def _without_flat(idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Drop picked points whose picked neighbours on both sides have the same value."""
    v = values[idx]
    inner = np.zeros(idx.size, dtype=bool)
    inner[1:-1] = (v[1:-1] == v[:-2]) & (v[1:-1] == v[2:])
    return idx[~inner]
