"""One line's spike state: the robust local level, spike events and the recovery watch, in bounded memory.

Values arrive in chunks (NumPy arrays); every decision depends on the values only, never on where the
chunks were cut: the level of a value is the median (spread: MAD) of the ``window`` finite values before
its block of ``block`` values, blocks counted from the line's first finite value.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

import numpy as np

from . import _names as n

__all__ = ["LineSpikes", "SpikeSettings", "Watch"]


class SpikeSettings(NamedTuple):
    window: int = n.SPIKE_WINDOW
    block: int = n.SPIKE_BLOCK
    factor: float = n.SPIKE_FACTOR
    min_relative: float = n.SPIKE_MIN_RELATIVE
    recover_steps: int = n.RECOVER_STEPS


class Watch(NamedTuple):
    """A spike away from better not yet back at its pre-spike level."""

    step: int
    level: float  # the local level before the spike
    band: float  # back when within this of the level (the detection threshold)
    side: int  # +1 up, -1 down


class LineSpikes:
    """Spike events of one line; ``bad_side`` is the direction that is worse (+1: up, for a loss)."""

    def __init__(self, settings: SpikeSettings, bad_side: int = 1) -> None:
        self.settings = settings
        self.bad_side = bad_side
        self.pending = np.empty(0)  # finite values of the block not complete yet
        self.meds = np.empty(0)  # median of each of the last window // block complete blocks
        self.mads = np.empty(0)  # their MAD (around each block's own median)
        self.events = 0
        self.last_step: int | None = None  # first step of the last spike event
        self.last_size = math.nan  # its largest |value| / |level|
        self.in_run, self.run_side = False, 0  # the previous finite value was a spike, on this side
        self.watch: Watch | None = None  # the oldest spike away from better that has not come back
        self.recent: deque[tuple[int, float]] = deque(maxlen=n.SPIKES_KEPT)  # (first step, size) of the last events
        self.seen_step: int | None = None  # the line's latest step (any value)

    def unrecovered(self) -> bool:
        """A spike away from better is ``recover_steps`` or more steps old and not back at its level."""
        w = self.watch
        return w is not None and self.seen_step is not None and self.seen_step - w.step >= self.settings.recover_steps

    def add(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Take the next values of the line (any floats; NaN/inf are skipped: not spikes, not the level)."""
        if steps.size:
            self.seen_step = int(steps[-1])
        finite = np.isfinite(values)
        s, y = (steps, values) if finite.all() else (steps[finite], values[finite])
        if y.size:
            self._add_finite(s, y)

    def _levels(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each new value's level and detection band (NaN until ``window`` values were seen)."""
        b, k_ref = self.settings.block, self.settings.window // self.settings.block
        values = np.concatenate((self.pending, y)) if self.pending.size else y
        k = values.size // b  # blocks these values complete
        med, mad = _block_stats(values[: k * b].reshape(k, b))
        meds, mads = np.concatenate((self.meds, med)), np.concatenate((self.mads, mad))
        if meds.size < k_ref + k:  # warming up: the first blocks have no full reference
            pad = np.full(k_ref + k - meds.size, math.nan)
            meds, mads = np.concatenate((pad, meds)), np.concatenate((pad, mads))
        rows = np.arange(k + 1)[:, None] + np.arange(k_ref)  # row j: the k_ref blocks before block j
        ref_med, ref_mad = np.sort(meds[rows], axis=1), np.sort(mads[rows], axis=1)
        half = k_ref // 2
        level = (ref_med[:, half - 1 + k_ref % 2] + ref_med[:, half]) / 2
        noise = n.MAD_SCALE * (ref_mad[:, half - 1 + k_ref % 2] + ref_mad[:, half]) / 2
        drift = (ref_med[:, -1] - ref_med[:, 0]) / 2  # a trend across the window widens the band
        band = self.settings.factor * np.maximum(np.maximum(noise, drift), self.settings.min_relative * np.abs(level))
        self.pending = values[k * b:].copy()
        self.meds, self.mads = meds[-k_ref:][~np.isnan(meds[-k_ref:])], mads[-k_ref:][~np.isnan(mads[-k_ref:])]
        counts = np.full(k + 1, b)  # how many of the new values each block holds
        first = values.size - y.size  # pending values of block 0 (not new)
        counts[0] -= first
        counts[-1] = values.size - k * b - (first if k == 0 else 0)
        if k:
            counts[0] = b - first
        return np.repeat(level, counts), np.repeat(band, counts)

    def _add_finite(self, s: np.ndarray, y: np.ndarray) -> None:
        level, band = self._levels(y)
        dev = y - level
        with np.errstate(invalid="ignore"):
            spike = np.abs(dev) > band  # False while the level is NaN
        if not spike.any():  # the common case: no event here; a watch may still close
            self.in_run, self.run_side = False, 0
            if self.watch is not None:
                self._watch(s, y, level, band, spike)
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            size = np.abs(y) / np.abs(level)
        side = np.zeros(y.size, dtype=np.int8)
        side[spike] = np.sign(dev[spike])
        prev_spike = np.concatenate(([self.in_run], spike[:-1]))
        prev_side = np.concatenate(([self.run_side], side[:-1]))
        starts = spike & (~prev_spike | (side != prev_side))
        if self.in_run and not starts[0] and spike[0]:  # the last event goes on into these values
            self.last_size = max(self.last_size, float(size[: _run_end(spike, side, 0)].max()))
            if self.recent:
                self.recent[-1] = (self.recent[-1][0], self.last_size)
        begun = np.flatnonzero(starts)
        self.events += begun.size
        for j in begun[-n.SPIKES_KEPT:].tolist():
            self.last_step, self.last_size = int(s[j]), float(size[j:_run_end(spike, side, j)].max())
            self.recent.append((self.last_step, self.last_size))
        self.in_run, self.run_side = bool(spike[-1]), int(side[-1])
        self._watch(s, y, level, band, starts & (side == self.bad_side))

    def _watch(self, s: np.ndarray, y: np.ndarray, level: np.ndarray, band: np.ndarray, bad: np.ndarray) -> None:
        """Open a watch at a spike away from better; close it when a value is back within its band."""
        i = 0
        while i < y.size:
            if self.watch is None:
                found = np.flatnonzero(bad[i:])
                if not found.size:
                    return
                j = i + int(found[0])
                self.watch = Watch(int(s[j]), float(level[j]), float(band[j]), self.bad_side)
                i = j + 1
            w = self.watch
            back = np.flatnonzero(w.side * (y[i:] - w.level) <= w.band)
            if not back.size:
                return
            self.watch = None
            i += int(back[0]) + 1

    def state_dict(self) -> dict[str, Any]:
        return {"pending": self.pending.tolist(), "meds": self.meds.tolist(), "mads": self.mads.tolist(),
                "events": self.events, "last_step": self.last_step,
                "last_size": self.last_size, "in_run": self.in_run, "run_side": self.run_side,
                "watch": None if self.watch is None else list(self.watch), "seen_step": self.seen_step,
                "recent": [list(e) for e in self.recent]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pending, self.meds, self.mads = (np.asarray(state[k], dtype=np.float64)
                                              for k in ("pending", "meds", "mads"))
        self.events = int(state["events"])
        self.last_step, self.last_size = state["last_step"], float(state["last_size"])
        self.in_run, self.run_side = bool(state["in_run"]), int(state["run_side"])
        self.watch = None if state["watch"] is None else Watch(*state["watch"])
        self.seen_step = state["seen_step"]
        self.recent = deque((tuple(e) for e in state["recent"]), maxlen=n.SPIKES_KEPT)


def _run_end(spike: np.ndarray, side: np.ndarray, j: int) -> int:
    """The index after the run of spikes on ``side[j]``'s side that starts at ``j``."""
    same = spike[j:] & (side[j:] == side[j])
    off = np.flatnonzero(~same)
    return j + (int(off[0]) if off.size else same.size)


def _block_stats(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The median of each row and its MAD (the median distance from it)."""
    if not blocks.size:
        return np.empty(0), np.empty(0)
    med = _median_rows(blocks)
    return med, _median_rows(np.abs(blocks - med[:, None]))


def _median_rows(rows: np.ndarray) -> np.ndarray:
    """The median of each row (finite values; sorting short rows beats np.partition and np.median)."""
    half = rows.shape[1] // 2
    ordered = np.sort(rows, axis=1)
    return (ordered[:, half - 1 + rows.shape[1] % 2] + ordered[:, half]) / 2
