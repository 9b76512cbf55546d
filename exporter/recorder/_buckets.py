"""Streaming M4 over step-range buckets whose width doubles (Jugel et al., VLDB 2014).

Each bucket keeps the first, last, min and max finite point of its step range and its first
non-finite point. When a step falls past the last bucket, the width doubles and pairs of
neighbouring buckets merge; that merge is exact (the M4 of a union is the M4 of the two M4s),
so the result equals offline M4 at the final width, in O(n_buckets) memory.

Each bucket also keeps its runners-up, the second-largest and second-smallest finite point
(``max2``, ``min2``; exact under merges too: the top two of a union are among the top two of each
part). They are not candidates of the drawing (:meth:`points`): the final pick offers them as
spikes only (:meth:`runners_up`), so a spike sharing a wide bucket with a larger one is not lost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._raster import kernel

__all__ = ["M4Buckets"]

_EMPTY = -1  # step sentinel of an empty slot (steps are >= 0)
_PRIMARY = ("first", "last", "min", "max", "nonfinite")  # the M4 candidates
_RUNNERS_UP = ("min2", "max2")  # the second-smallest and second-largest finite point of a bucket
_SLOTS = _PRIMARY + _RUNNERS_UP
_FEW_GROUPS = 8  # below this many bucket changes in a chunk, fold bucket by bucket


class M4Buckets:
    """Fixed number of buckets of width ``2**k`` steps starting at ``origin``."""

    def __init__(self, n_buckets: int, origin: int) -> None:
        if n_buckets < 2 or n_buckets % 2:
            raise ValueError("n_buckets must be an even number >= 2.")
        self.n_buckets = n_buckets
        self.origin = origin
        self.width = 1
        self.steps = {s: np.full(n_buckets, _EMPTY, dtype=np.int64) for s in _SLOTS}
        self.values = {s: np.zeros(n_buckets, dtype=np.float64) for s in _SLOTS}
        self.empty = True  # nothing folded yet: widening merges nothing

    # -- folding -----------------------------------------------------------------------
    def add(self, steps: np.ndarray, values: np.ndarray, finite: np.ndarray | None = None) -> None:
        """Fold points with non-decreasing ``steps`` (all >= origin) into the buckets.
        ``finite``: ``np.isfinite(values)`` when the caller has it (None: computed here)."""
        if steps.size == 0:
            return
        while (int(steps[-1]) - self.origin) // self.width >= self.n_buckets:
            if self.empty:  # the same as doubling, without merging empty buckets (a line's first fold)
                self.width *= 2
            else:
                self._double()
        self.empty = False
        if finite is None:
            finite = np.isfinite(values)
        if finite.all():  # the common case: no masked copies
            self._add_finite(steps, values)
            return
        if finite.any():
            self._add_finite(steps[finite], values[finite])
        nf = ~finite
        idx = (steps[nf] - self.origin) // self.width
        starts = np.concatenate(([0], _bucket_changes(idx)))
        self._merge_first("nonfinite", idx[starts], steps[nf][starts], values[nf][starts])

    def _add_finite(self, steps: np.ndarray, values: np.ndarray) -> None:
        idx = (steps - self.origin) // self.width
        cut = _bucket_changes(idx)
        if cut.size < _FEW_GROUPS:  # long runs: a chunk spans a few wide buckets; NumPy per group
            bounds = [0, *cut.tolist(), idx.size]
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                self._add_group(int(idx[lo]), steps[lo:hi], values[lo:hi])
            return
        starts = np.concatenate(([0], cut))
        ends = np.append(cut, idx.size) - 1
        gid = idx[starts]
        self._merge_first("first", gid, steps[starts], values[starts])
        self.steps["last"][gid] = steps[ends]
        self.values["last"][gid] = values[ends]
        counts = np.diff(np.append(starts, idx.size))
        for slot, reduce, worst in (("min", np.minimum, np.inf), ("max", np.maximum, -np.inf)):
            ext = reduce.reduceat(values, starts)
            hits = np.flatnonzero(values == np.repeat(ext, counts))
            pos = hits[np.searchsorted(hits, starts)]  # the first hit of each group: ties keep the earliest
            rest = values.copy()
            rest[pos] = worst  # the group's runner-up: its extreme once the extreme itself is out
            ext2 = reduce.reduceat(rest, starts)
            hits2 = np.flatnonzero(rest == np.repeat(ext2, counts))
            pos2 = hits2[np.searchsorted(hits2, starts)]
            pos2_s = np.where(counts > 1, steps[np.minimum(pos2, idx.size - 1)], _EMPTY)
            self._merge_top2(slot, gid, steps[pos], ext, pos2_s, ext2)

    def _merge_top2(self, slot: str, gid: np.ndarray, s1: np.ndarray, v1: np.ndarray, s2: np.ndarray,
                    v2: np.ndarray) -> None:
        """Merge a group's extreme (s1, v1) and runner-up (s2, v2; step _EMPTY: none) into buckets ``gid``
        (earlier points first: the stored ones win ties)."""
        second = slot + "2"
        a_s, a_v = self.steps[slot][gid], self.values[slot][gid]
        b_s, b_v = self.steps[second][gid], self.values[second][gid]
        beats = (lambda x, y: x < y) if slot == "min" else (lambda x, y: x > y)
        better = (a_s == _EMPTY) | beats(v1, a_v)
        # the extreme: the group's when better; the runner-up: the best of what is left
        # (better: the stored extreme vs the group's runner-up; else: the stored runner-up vs the group's extreme)
        c1_s, c1_v = np.where(better, a_s, b_s), np.where(better, a_v, b_v)
        c2_s, c2_v = np.where(better, s2, s1), np.where(better, v2, v1)
        take2 = (c2_s != _EMPTY) & ((c1_s == _EMPTY) | beats(c2_v, c1_v))
        self.steps[slot][gid] = np.where(better, s1, a_s)
        self.values[slot][gid] = np.where(better, v1, a_v)
        self.steps[second][gid] = np.where(take2, c2_s, c1_s)
        self.values[second][gid] = np.where(take2, c2_v, c1_v)

    def _add_group(self, b: int, steps: np.ndarray, values: np.ndarray) -> None:
        """Fold finite points that all fall in bucket ``b``."""
        s, v = self.steps, self.values
        if s["first"][b] == _EMPTY:
            s["first"][b], v["first"][b] = steps[0], values[0]
        s["last"][b], v["last"][b] = steps[-1], values[-1]
        for slot, arg, worst in (("min", np.argmin, np.inf), ("max", np.argmax, -np.inf)):
            i = int(arg(values))  # the first occurrence: ties keep the earliest
            top = [(int(steps[i]), float(values[i]))]
            if values.size > 1:
                rest = values.copy()
                rest[i] = worst
                j = int(arg(rest))
                top.append((int(steps[j]), float(rest[j])))
            self._merge_top2_at(slot, b, top)

    def _merge_top2_at(self, slot: str, b: int, top: list[tuple[int, float]]) -> None:
        """Merge a later group's extreme and runner-up (``top``, best first) into bucket ``b``."""
        second = slot + "2"
        stored = [(int(self.steps[k][b]), float(self.values[k][b])) for k in (slot, second)]
        points = [p for p in stored if p[0] != _EMPTY] + top  # in step order of preference: stored first
        key = (lambda p: p[1]) if slot == "min" else (lambda p: -p[1])
        best = sorted(points, key=key)  # stable: ties keep the stored (earlier) point
        (self.steps[slot][b], self.values[slot][b]) = best[0]
        if len(best) > 1:
            (self.steps[second][b], self.values[second][b]) = best[1]

    def _merge_first(self, slot: str, gid: np.ndarray, steps: np.ndarray, values: np.ndarray) -> None:
        empty = self.steps[slot][gid] == _EMPTY
        self.steps[slot][gid[empty]] = steps[empty]
        self.values[slot][gid[empty]] = values[empty]

    def _double(self) -> None:
        half = self.n_buckets // 2
        s, v = self.steps, self.values
        new_s: dict[str, np.ndarray] = {}
        new_v: dict[str, np.ndarray] = {}
        for slot in _PRIMARY:
            ls, rs = s[slot][0::2], s[slot][1::2]
            lv, rv = v[slot][0::2], v[slot][1::2]
            if slot == "last":
                take_right = rs != _EMPTY
            elif slot in ("first", "nonfinite"):
                take_right = ls == _EMPTY
            else:
                cmp = rv < lv if slot == "min" else rv > lv
                take_right = (rs != _EMPTY) & ((ls == _EMPTY) | cmp)
            new_s[slot] = np.concatenate([np.where(take_right, rs, ls), np.full(half, _EMPTY, np.int64)])
            new_v[slot] = np.concatenate([np.where(take_right, rv, lv), np.zeros(half)])
        # the runner-up of a pair: the best of the pair's extreme that lost and both runners-up
        for slot in ("min", "max"):
            beats = (lambda x, y: x < y) if slot == "min" else (lambda x, y: x > y)
            ls, rs, lv, rv = s[slot][0::2], s[slot][1::2], v[slot][0::2], v[slot][1::2]
            right = (rs != _EMPTY) & ((ls == _EMPTY) | beats(rv, lv))
            cands = [(np.where(right, ls, rs), np.where(right, lv, rv)),
                     (s[slot + "2"][0::2], v[slot + "2"][0::2]), (s[slot + "2"][1::2], v[slot + "2"][1::2])]
            bs, bv = cands[0]
            for cs, cv in cands[1:]:  # ties keep the earlier step
                take = (cs != _EMPTY) & ((bs == _EMPTY) | beats(cv, bv) | ((cv == bv) & (cs < bs)))
                bs, bv = np.where(take, cs, bs), np.where(take, cv, bv)
            new_s[slot + "2"] = np.concatenate([bs, np.full(half, _EMPTY, np.int64)])
            new_v[slot + "2"] = np.concatenate([bv, np.zeros(half)])
        self.steps, self.values = new_s, new_v
        self.width *= 2

    # -- reading -----------------------------------------------------------------------
    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """All distinct kept points (finite and non-finite), sorted by step: the M4 candidates."""
        return self._distinct(_PRIMARY)

    def runners_up(self) -> tuple[np.ndarray, np.ndarray]:
        """Each bucket's second-smallest and second-largest point (distinct, sorted by step)."""
        return self._distinct(_RUNNERS_UP)

    def _distinct(self, slots: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        # buckets hold disjoint step ranges in step order: sorting each bucket's slots sorts them all
        c = kernel()
        if c is not None:  # the same points, compiled (_craster.c)
            out_s = np.empty(self.n_buckets * len(slots), dtype=np.int64)
            out_v = np.empty(out_s.size)
            m = c.distinct(tuple(np.ascontiguousarray(self.steps[s], dtype=np.int64) for s in slots),
                           tuple(np.ascontiguousarray(self.values[s], dtype=np.float64) for s in slots), out_s, out_v)
            return out_s[:m].copy(), out_v[:m].copy()
        steps = np.stack([self.steps[s] for s in slots], axis=1)
        values = np.stack([self.values[s] for s in slots], axis=1)
        order = np.lexsort((values.view(np.int64), steps), axis=1)
        steps = np.take_along_axis(steps, order, axis=1).ravel()
        values = np.take_along_axis(values, order, axis=1).ravel()
        keep = steps != _EMPTY
        steps, values = steps[keep], values[keep]
        # a point kept in two slots (first and min, say) appears once
        dup = np.zeros(steps.size, dtype=bool)
        dup[1:] = (steps[1:] == steps[:-1]) & (values[1:].view(np.int64) == values[:-1].view(np.int64))
        return steps[~dup], values[~dup]

    def truncate(self, step: int) -> int:
        """Drop every kept point at ``step`` or later; return how many kept points were dropped."""
        before = self.points()[0].size
        for slot in _SLOTS:
            stale = self.steps[slot] >= step
            self.steps[slot][stale] = _EMPTY
        # the bucket holding ``step`` may have lost its first/last/min/max: rebuild it from what is left
        b = max(0, (step - self.origin) // self.width)
        if b < self.n_buckets:
            self._rebuild_bucket(b)
        return before - self.points()[0].size

    def _rebuild_bucket(self, b: int) -> None:
        pts = [(int(self.steps[s][b]), float(self.values[s][b])) for s in ("first", "last", "min", "max", *_RUNNERS_UP)]
        pts = sorted(p for p in pts if p[0] != _EMPTY)
        for slot in _RUNNERS_UP:  # what is left is all the bucket knows: no runner-up to tell apart
            self.steps[slot][b] = _EMPTY
        if not pts:
            return
        chosen = {"first": pts[0], "last": pts[-1], "min": min(pts, key=lambda p: (p[1], p[0])),
                  "max": max(pts, key=lambda p: (p[1], -p[0]))}
        for slot, (st, val) in chosen.items():
            self.steps[slot][b] = st
            self.values[slot][b] = val

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "n_buckets": self.n_buckets,
            "origin": self.origin,
            "width": self.width,
            "steps": {s: a.tolist() for s, a in self.steps.items()},
            "values": {s: a.tolist() for s, a in self.values.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> M4Buckets:
        obj = cls(int(state["n_buckets"]), int(state["origin"]))
        obj.width = int(state["width"])
        obj.empty = False
        n = obj.n_buckets  # a state saved before runners-up were kept has none: empty slots
        obj.steps = {s: np.asarray(state["steps"][s], dtype=np.int64) if s in state["steps"]
                     else np.full(n, _EMPTY, dtype=np.int64) for s in _SLOTS}
        obj.values = {s: np.asarray(state["values"][s], dtype=np.float64) if s in state["values"]
                      else np.zeros(n) for s in _SLOTS}
        return obj


def _bucket_changes(idx: np.ndarray) -> np.ndarray:
    """Positions in sorted bucket ids ``idx`` where a new bucket starts (0 excluded)."""
    return np.flatnonzero(idx[1:] != idx[:-1]) + 1
