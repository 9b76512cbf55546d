"""Streaming M4 over step-range buckets whose width doubles (Jugel et al., VLDB 2014).

Each bucket keeps the first, last, min and max finite point of its step range and its first
non-finite point. When a step falls past the last bucket, the width doubles and pairs of
neighbouring buckets merge; that merge is exact (the M4 of a union is the M4 of the two M4s),
so the result equals offline M4 at the final width, in O(n_buckets) memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["M4Buckets"]

_EMPTY = -1  # step sentinel of an empty slot (steps are >= 0)
_SLOTS = ("first", "last", "min", "max", "nonfinite")
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

    # -- folding -----------------------------------------------------------------------
    def add(self, steps: np.ndarray, values: np.ndarray, finite: np.ndarray | None = None) -> None:
        """Fold points with non-decreasing ``steps`` (all >= origin) into the buckets.
        ``finite``: ``np.isfinite(values)`` when the caller has it (None: computed here)."""
        if steps.size == 0:
            return
        while (int(steps[-1]) - self.origin) // self.width >= self.n_buckets:
            self._double()
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
        for slot, reduce in (("min", np.minimum), ("max", np.maximum)):
            ext = reduce.reduceat(values, starts)
            hits = np.flatnonzero(values == np.repeat(ext, counts))
            pos = hits[np.searchsorted(hits, starts)]  # the first hit of each group: ties keep the earliest
            old_s, old_v = self.steps[slot][gid], self.values[slot][gid]
            better = (old_s == _EMPTY) | (ext < old_v if slot == "min" else ext > old_v)
            self.steps[slot][gid] = np.where(better, steps[pos], old_s)
            self.values[slot][gid] = np.where(better, ext, old_v)

    def _add_group(self, b: int, steps: np.ndarray, values: np.ndarray) -> None:
        """Fold finite points that all fall in bucket ``b``."""
        s, v = self.steps, self.values
        if s["first"][b] == _EMPTY:
            s["first"][b], v["first"][b] = steps[0], values[0]
        s["last"][b], v["last"][b] = steps[-1], values[-1]
        i, j = int(np.argmin(values)), int(np.argmax(values))  # the first occurrence: ties keep the earliest
        if s["min"][b] == _EMPTY or values[i] < v["min"][b]:
            s["min"][b], v["min"][b] = steps[i], values[i]
        if s["max"][b] == _EMPTY or values[j] > v["max"][b]:
            s["max"][b], v["max"][b] = steps[j], values[j]

    def _merge_first(self, slot: str, gid: np.ndarray, steps: np.ndarray, values: np.ndarray) -> None:
        empty = self.steps[slot][gid] == _EMPTY
        self.steps[slot][gid[empty]] = steps[empty]
        self.values[slot][gid[empty]] = values[empty]

    def _double(self) -> None:
        half = self.n_buckets // 2
        s, v = self.steps, self.values
        new_s: dict[str, np.ndarray] = {}
        new_v: dict[str, np.ndarray] = {}
        for slot in _SLOTS:
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
        self.steps, self.values = new_s, new_v
        self.width *= 2

    # -- reading -----------------------------------------------------------------------
    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """All distinct kept points (finite and non-finite), sorted by step."""
        steps = np.concatenate([self.steps[s] for s in _SLOTS])
        values = np.concatenate([self.values[s] for s in _SLOTS])
        keep = steps != _EMPTY
        steps, values = steps[keep], values[keep]
        # a point kept in two slots (first and min, say) appears once
        order = np.lexsort((values.view(np.int64), steps))
        steps, values = steps[order], values[order]
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
        pts = [(int(self.steps[s][b]), float(self.values[s][b])) for s in ("first", "last", "min", "max")]
        pts = sorted(p for p in pts if p[0] != _EMPTY)
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
        obj.steps = {s: np.asarray(state["steps"][s], dtype=np.int64) for s in _SLOTS}
        obj.values = {s: np.asarray(state["values"][s], dtype=np.float64) for s in _SLOTS}
        return obj


def _bucket_changes(idx: np.ndarray) -> np.ndarray:
    """Positions in sorted bucket ids ``idx`` where a new bucket starts (0 excluded)."""
    return np.flatnonzero(idx[1:] != idx[:-1]) + 1
