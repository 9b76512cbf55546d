"""The final pick: ``budget`` points out of the M4 candidates, by MinMaxLTTB (tsdownsample), then
moved where they draw closest to the candidates.

Streaming M4 keeps 4-8x the budget as candidates (and at least two buckets per pixel column);
MinMaxLTTB (van der Donckt et al., 2023) picks the points that keep the drawn shape; a picked point
that lies between two picked neighbours of the same value draws nothing they don't, so it is
dropped and the pick is redone with the freed points (flat stretches end up with two points, and
the budget goes where the curve moves). The required points (first, last, global min and max,
first non-finite) and the spikes (``_spikes``; among the candidates and the buckets' runners-up,
which join the candidates when they are spikes: all of them up to half the budget; beyond it the
largest ``budget - spikes``, never fewer than a quarter of the budget, so that a line that is
mostly spikes keeps room for its shape; never more than the room the required points leave) are
always kept. (Beyond half the budget the pick keeps more spikes than those: at budget 250 and 200
injected spikes, 130-133 against MinMaxLTTB's 124-127 on bench/recorder_grid.py's spiky_loss, where keeping
half the budget, 148-156 of them, made the interpolation deviation 1.22-1.29x MinMaxLTTB's.)

The pick is then judged (``_judge``: span errors at each chart size of ``SIZES`` and the
interpolation deviation), and a local search (``_refine``) moves its free points, one at a time
with their neighbours fixed, to the candidate between those neighbours that draws closest without
increasing the interpolation deviation there: at the other size it draws farthest at, then, from
there, at 1000x400. Of the two results, the closest that no measure puts past the pick's (and that
is not as far in all) is kept; when neither is (the first search went past the pick at a size the
second does not mend), a search at 1000x400 from the pick itself, on the same terms; else the pick.
(Other first picks, MinMaxLTTB at ratio 2 and M4 of equal x ranges, were judged beside it until
they had lost in every cell of bench/recorder_sizes.py's grid; and a rejected search was retried
without the deviation condition until dropping that moved no median of the grid by more than
0.005.) Every step is deterministic. A short line (``judged=False``) takes the ratio-4 pick alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tsdownsample import MinMaxLTTBDownsampler

from ._judge import Judge, ratios
from ._raster import kernel, transform
from ._refine import refine
from ._spikes import find_spikes, largest

__all__ = ["select_points", "spike_room"]

_DOWNSAMPLER = MinMaxLTTBDownsampler()
# its compiled int64-step/float64-value function, called straight: the public downsample() spends ~175 us a call
# checking dtypes (more than the pass itself on a short line); None on a tsdownsample without it (the public call)
_I64_F64 = getattr(getattr(_DOWNSAMPLER, "mod_single_core", None), "downsample_i64_f64", None)
SPIKE_SHARE = 2  # spikes kept: all of them up to budget // SPIKE_SHARE, else the largest budget - spikes ...
SPIKE_FLOOR = 4  # ... and never fewer than budget // SPIKE_FLOOR
REPICKS = 6  # at most this many re-picks with the points freed by flat stretches
MINMAX_RATIO = 4  # MinMaxLTTB's pre-selection ratio


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
                           extra_values: np.ndarray, yscale: str) -> tuple[np.ndarray, ...]:
    """The candidates with the runners-up that are spikes among them and the other runners-up
    (``_spikes``) put in (``_merged``), and their values as drawn (``transform``). (The spikes of the
    result are found again, without the other runners-up: with them in its windows, a small spike's
    spread grows and it stops being one.)"""
    t, extra_drawn = transform(values, yscale), transform(extra_values, yscale)
    _, _, drawn, extra = _merged(steps, values, t, extra_steps, extra_values, extra_drawn, points=False)
    spike = np.zeros(drawn.size, dtype=bool)
    spike[_spikes_drawn(drawn)[0]] = True
    if not (spike & extra).any():  # the common case: no runner-up joins; the candidates as they were
        return steps, values, t
    s, v, drawn, extra = _merged(steps, values, t, extra_steps, extra_values, extra_drawn)
    keep = ~extra | spike
    return s[keep], v[keep], drawn[keep]


def _merged(steps: np.ndarray, values: np.ndarray, drawn: np.ndarray, extra_steps: np.ndarray,
            extra_values: np.ndarray, extra_drawn: np.ndarray, points: bool = True) -> tuple[np.ndarray | None, ...]:
    """Points and extra points (each sorted by step; ``drawn``: their values as drawn) in step order,
    each extra after the points of its step; an extra equal to the point just before it is left out.
    Also which of them are extras. ``points`` False: the steps and values are not made (None), only
    the drawn values and which are extras. (Compiled in ``_craster.c`` when built: the same arrays.)"""
    c, total = kernel(), steps.size + extra_steps.size
    if c is not None:
        s, v = (np.empty(total, dtype=np.int64), np.empty(total)) if points else (None, None)
        t, extra = np.empty(total), np.empty(total, dtype=bool)
        given = [np.ascontiguousarray(a, dtype=np.int64 if i % 3 == 0 else np.float64)
                 for i, a in enumerate((steps, values, drawn, extra_steps, extra_values, extra_drawn))]
        got = c.merge_after(*given, s, v, t, extra.view(np.uint8))
        return (s[:got] if points else None, v[:got] if points else None, t[:got], extra[:got])
    at = np.searchsorted(steps, extra_steps, side="right")
    where = at + np.arange(at.size)  # positions in the merged arrays (what np.insert(steps, at, ...) gives)
    extra = np.zeros(total, dtype=bool)
    extra[where] = True
    s, v, t = np.empty(total, dtype=np.int64), np.empty(total), np.empty(total)
    s[where], v[where], t[where] = extra_steps, extra_values, extra_drawn
    s[~extra], v[~extra], t[~extra] = steps, values, drawn
    same = (where > 0) & (s[where - 1] == s[where]) & (v[where - 1] == v[where])
    kept = np.ones(total, dtype=bool)
    kept[where[same]] = False
    return (s[kept] if points else None, v[kept] if points else None, t[kept], extra[kept])


def _select(steps: np.ndarray, values: np.ndarray, budget: int, required: Sequence[tuple[int, float]],
            yscale: str, judged: bool, t: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    must = np.zeros(steps.size, dtype=bool)
    for st, val in required:
        hit = np.flatnonzero((steps == st) & ((values == val) if val == val else np.isnan(values)))  # NaN: any NaN
        must[hit[:1]] = True
    finite = np.isfinite(values)
    fidx = None if finite.all() else np.flatnonzero(finite)  # None: every value (no copy of the candidates)
    t = transform(values, yscale) if t is None else t  # once: the judge draws the same values
    at, size = _spikes_drawn(t)  # the spikes' positions (a drawn value is finite)
    nonfinite = np.flatnonzero(~finite)
    # the latest non-finite point is kept beside the pick (where the line is still broken)
    nonfinite_extra = int(nonfinite.size > 0 and not must[nonfinite[-1]])
    # spikes take at most half the budget, and never the places of the required points
    room = min(spike_room(budget, at.size), budget - int(must.sum()) - nonfinite_extra)
    must[largest(at, size, room)] = True
    spiky = np.zeros(steps.size, dtype=bool)  # every spike, kept or not (more than half the budget)
    spiky[at] = True
    n_out = budget - nonfinite_extra - int((must & ~finite).sum())
    if int(finite.sum()) <= n_out:
        keep = must | finite
    else:
        keep = _keep(steps, values, fidx, must, n_out, MINMAX_RATIO)
        if judged:
            keep = _refined(keep, Judge(steps, values, yscale, t), must | spiky)
    keep = keep.copy()
    nf_rest = np.flatnonzero(~finite & ~keep)
    if nf_rest.size and keep.sum() < budget:
        keep[nf_rest[-1]] = True  # the latest non-finite point shows where the line is still broken
    while keep.sum() > budget:  # only when the second pick took other required points' places
        drop = np.flatnonzero(keep & ~must)
        keep[drop[len(drop) // 2]] = False
    return steps[keep], values[keep]


def spike_room(budget: int, spikes: int) -> int:
    """How many of ``spikes`` spikes a pick of ``budget`` points keeps, at least: all of them up to
    half the budget; beyond, ``budget - spikes``, never under a quarter of the budget."""
    if spikes <= budget // SPIKE_SHARE:
        return spikes
    return max(budget - spikes, budget // SPIKE_FLOOR)


def _spikes_drawn(drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``find_spikes`` over the finite values of ``drawn`` (a log chart leaves values <= 0 out): the
    spikes' positions in ``drawn`` and their sizes (no copy of ``drawn`` when every value is finite)."""
    shown = np.isfinite(drawn)
    if shown.all():
        return find_spikes(drawn)
    shown = np.flatnonzero(shown)
    found, size = find_spikes(drawn[shown])
    return shown[found], size


def _refined(pick: np.ndarray, judge: Judge, frozen: np.ndarray) -> np.ndarray:
    """``pick`` with its free points moved where it draws closer (``_refine``): at the size other
    than the PNG's it draws farthest at, then, from there, at the PNG's size; of the two, the closest
    that no measure of ``judge`` puts past ``pick`` (and not as far in all) is kept; when neither is,
    a search at the PNG's size from ``pick`` itself, on the same terms; else ``pick``."""
    reference = judge.errors(pick)
    at = ratios(reference, reference)  # 1 where the pick errs, 0 where it draws exactly
    if not at.any():
        return pick  # nothing to mend
    sizes = len(judge.views)
    tried: list[tuple[np.ndarray, np.ndarray]] = []

    def search(view: int, start: np.ndarray) -> np.ndarray:
        px, py, spans, size = judge.views[view]
        moved = refine(px, py, judge.ok, start, frozen, spans, size, ranks=judge.ranks)
        tried.append((moved, ratios(judge.errors(moved), reference)))
        return moved

    def closest() -> np.ndarray | None:
        fits = [(r.sum(), i) for i, (_, r) in enumerate(tried) if r.sum() < at.sum() and r.max() <= 1.0]
        return tried[min(fits)[1]][0] if fits else None

    if sizes == 1:
        search(0, pick)
    else:
        search(0, search(1 + int(np.argmax(at[1:sizes])), pick))
        if closest() is None:  # the second search started where the first went past the pick: from the pick
            search(0, pick)
    best = closest()
    return pick if best is None else best


def _keep(steps: np.ndarray, values: np.ndarray, fidx: np.ndarray | None, must: np.ndarray, n_out: int,
          ratio: int) -> np.ndarray:
    """The required points plus a pick of the finite ones (at ``fidx``; None: all) that leaves room
    for those it misses."""
    keep = must.copy()
    fs, fv, fmust = (steps, values, must) if fidx is None else (steps[fidx], values[fidx], must[fidx])
    # the pick holds first and last; each other required point that one MinMaxLTTB pass misses costs a point
    first = _minmax_lttb(fs, fv, n_out, ratio)
    missing = int(fmust.sum()) - int(fmust[first].sum())
    picked = _pick(fs, fv, n_out - missing, ratio, first if not missing else None)  # the same pass: not redone
    keep[picked if fidx is None else fidx[picked]] = True
    return keep


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
