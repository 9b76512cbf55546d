"""The recorder's grid (issue 12): generated curves x lengths x budgets, against offline MinMaxLTTB.

Curves (generated here, seeded): a loss with isolated spikes, a loss with plateaus and learning-rate
drops, a loss diverging to inf then NaN, a noisy accuracy, a validation loss logged every
``VAL_EVERY`` steps. Per cell: raster error / MinMaxLTTB's (tsdownsample, on the finite points, same
budget), spikes kept exactly (step and value) by each, which of first / true last / min / max /
first non-finite the recorder kept, and ``finalize()`` time / one MinMaxLTTB pass over the series.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import tsdownsample
from curvewatch import CurveRecorder
from raster import Frame, pixel_error, rasterise

__all__ = ["BUDGETS", "CURVES", "LENGTHS", "VAL_EVERY", "curve", "grid", "recorded"]

BUDGETS = (250, 500, 1000, 4000)
LENGTHS = (10**4, 10**5, 10**6, 10**7)
VAL_EVERY = 100
SPIKES = 200  # isolated spikes per spiky curve (fewer at 10^4: one per 100 steps at most)
CURVES = ("spiky_loss", "plateau_loss", "diverging_loss", "noisy_acc", "val_loss")


def curve(name: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray]:
    """(steps, values, log scale?, spike indices) of a generated curve over ``n`` training steps."""
    rng = np.random.default_rng([seed, CURVES.index(name), n])
    t = np.arange(n, dtype=np.float64)
    level = 0.05 + 2.0 / np.sqrt(1.0 + t / max(n / 2000, 1.0))
    none = np.empty(0, dtype=np.int64)
    if name == "spiky_loss":
        y = level * np.exp(0.05 * rng.standard_normal(n))
        k = min(SPIKES, n // 100)
        gap = n // k
        at = np.arange(k) * gap + gap // 4 + rng.integers(0, gap // 2, size=k)  # one per stretch
        y[at] *= rng.uniform(3.0, 20.0, size=k)
        return t.astype(np.int64), y, True, at
    if name == "plateau_loss":
        drops = np.searchsorted([n // 3, 2 * n // 3], t, side="right")  # lr drops x0.1 twice
        y = (0.3 + 1.5 * np.exp(-t / (n / 10))) * (0.5 ** drops) * np.exp(0.02 * rng.standard_normal(n))
        y[n // 2:n // 2 + n // 10] = y[n // 2]  # a plateau: the same value for a tenth of the run
        return t.astype(np.int64), y, True, none
    if name == "diverging_loss":
        y = level * np.exp(0.05 * rng.standard_normal(n))
        end = int(n * 0.9)
        y[end:] *= np.exp(np.linspace(0.0, 40.0, n - end))  # blows up ...
        y[n - n // 50:] = np.inf  # ... to inf, then NaN to the end
        y[n - n // 100:] = np.nan
        return t.astype(np.int64), y, True, none
    if name == "noisy_acc":
        y = np.clip(0.5 + 0.45 * (1 - np.exp(-t / (n / 5))) + 0.03 * rng.standard_normal(n), 0.0, 1.0)
        return t.astype(np.int64), y, False, none
    steps = np.arange(0, n, VAL_EVERY, dtype=np.int64)  # validation every VAL_EVERY steps
    y = 0.2 + 1.5 / np.sqrt(1.0 + steps / max(n / 200, 1.0)) + 0.01 * rng.standard_normal(steps.size)
    return steps, y, True, none


def recorded(x: np.ndarray, y: np.ndarray, budget: int, log: bool) -> CurveRecorder:
    """A recorder with one chart ``c`` and line ``y``, every point logged through the line's handle."""
    rec = CurveRecorder(budget=budget)
    rec.chart("c", ["y"], yscale="log" if log else "linear")
    line = rec.line("y")
    for s, v in zip(x.tolist(), y.tolist()):
        line(s, v)
    return rec


def _record(x: np.ndarray, y: np.ndarray, budget: int, log: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Log every point through ``rec.log``; return the final line and the seconds ``finalize()`` took."""
    rec = CurveRecorder(budget=budget)
    rec.chart("c", ["y"], yscale="log" if log else "linear")
    call = rec.log
    for i in range(0, x.size, 1_000_000):
        for s, v in zip(x[i:i + 1_000_000].tolist(), y[i:i + 1_000_000].tolist()):
            call(s, y=v)
    t0 = time.perf_counter()
    doc = rec.finalize()
    secs = time.perf_counter() - t0
    line = doc["charts"][0]["lines"][0]
    return np.asarray(line["x"], dtype=np.int64), np.asarray(line["y"], dtype=np.float64), secs


def _has(kx: np.ndarray, ky: np.ndarray, step: int, value: float) -> bool:
    same = ky == value if np.isfinite(value) else (np.isnan(ky) if np.isnan(value) else ky == value)
    return bool(np.any((kx == step) & same))


def grid(lengths: tuple[int, ...] = LENGTHS, budgets: tuple[int, ...] = BUDGETS) -> list[dict]:
    rows = []
    ds = tsdownsample.MinMaxLTTBDownsampler()
    for n in lengths:
        for name in CURVES:
            x, y, log, spikes = curve(name, n)
            frame = Frame.of(x, y, log=log)
            full = rasterise(x, y, frame)
            fin = np.isfinite(y)
            xf, yf = x[fin], y[fin]
            bad = np.flatnonzero(~fin)
            checks = {"first": (x[0], y[0]), "last": (x[-1], y[-1]), "min": (xf[np.argmin(yf)], yf.min()),
                      "max": (xf[np.argmax(yf)], yf.max())}
            if bad.size:
                checks["first non-finite"] = (x[bad[0]], y[bad[0]])
            for budget in budgets:
                t0 = time.perf_counter()
                idx = ds.downsample(xf, yf, n_out=budget) if xf.size > budget else np.arange(xf.size)
                ref_secs = time.perf_counter() - t0
                mx, my = xf[idx], yf[idx]
                kx, ky, secs = _record(x, y, budget, log)
                ref_error = pixel_error(rasterise(mx, my, frame), full)
                error = pixel_error(rasterise(kx, ky, frame), full)
                rows.append({
                    "n": n, "curve": name, "budget": budget, "points": int(kx.size), "error": error,
                    "ref_error": ref_error,
                    "ratio": error / ref_error if ref_error > 0 else (0.0 if error == 0 else None),
                    "spikes": int(spikes.size),
                    "spikes_kept": sum(_has(kx, ky, int(s), float(y[s])) for s in spikes),
                    "spikes_ref": sum(_has(mx, my, int(s), float(y[s])) for s in spikes),
                    "kept": {k: _has(kx, ky, int(s), float(v)) for k, (s, v) in checks.items()},
                    "kept_ref": {k: _has(mx, my, int(s), float(v)) for k, (s, v) in checks.items()},
                    "finalize_s": secs, "minmaxlttb_s": ref_secs})
            print(f"  grid n={n:>8} {name}: done", file=sys.stderr, flush=True)
    return rows
