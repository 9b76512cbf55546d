"""Recorder v3 (issue 25): fidelity at three chart sizes, interpolation deviation, spikes and finalize
cost, against offline MinMaxLTTB, on the grid's five curves (bench/recorder_grid.py).

    .venv/bin/python bench/recorder_sizes.py               # n 10^4..10^7 (~10 min on 2 busy cores)
    .venv/bin/python bench/recorder_sizes.py --max-n 100000

Per cell (curve, n, budget): the raster error (bench/raster.py, differing pixels / the full line's)
at each of SIZES, as a ratio to MinMaxLTTB's (tsdownsample, finite points, same budget); the
interpolation deviation (mean |y - the kept line's linear interpolation| over every finite logged
point, drawn units: log10 on a log chart, / the drawn y range) as a ratio to MinMaxLTTB's; spikes at
least SPIKE_MIN times their local level (the median of the SPIKE_HALO points on each side) kept
exactly; ``finalize()`` thread CPU time / one MinMaxLTTB pass. Writes
bench/results/recorder_sizes.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import tsdownsample
from curvewatch import CurveRecorder
from raster import Frame, pixel_error, rasterise
from recorder_grid import BUDGETS, CURVES, LENGTHS, curve, recorded

__all__ = ["SIZES", "cells"]

HERE = Path(__file__).resolve().parent
SIZES = ((1000, 400), (1920, 1080), (3840, 1000))
SPIKE_MIN = 5.0
SPIKE_HALO = 50
SMALL = (2000, 5000, 9000)  # points of the short lines whose finalize() cost is the fixed cost


def deviation(kx: np.ndarray, ky: np.ndarray, x: np.ndarray, y: np.ndarray, log: bool) -> float:
    """Mean |y - interp(kept)| over the finite points, in drawn units / the drawn range."""
    t = np.log10(np.where(y > 0, y, np.nan)) if log else y.astype(np.float64)
    ok = np.isfinite(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        kt = np.log10(np.where(ky > 0, ky, np.nan)) if log else ky.astype(np.float64)
    kok = np.isfinite(kt)
    if kok.sum() < 2 or not ok.any():
        return 0.0
    span = float(t[ok].max() - t[ok].min()) or 1.0
    return float(np.mean(np.abs(t[ok] - np.interp(x[ok], kx[kok], kt[kok])))) / span


def big_spikes(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The injected spikes at least SPIKE_MIN times their local level."""
    keep = []
    for i in at.tolist():
        around = np.concatenate([y[max(0, i - SPIKE_HALO):i], y[i + 1:i + 1 + SPIKE_HALO]])
        if y[i] >= SPIKE_MIN * float(np.median(around)):
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def _kept(kx: np.ndarray, ky: np.ndarray, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> int:
    have = set(zip(kx.tolist(), ky.tolist()))
    return sum((int(x[i]), float(y[i])) in have for i in idx.tolist())


def _record(x: np.ndarray, y: np.ndarray, budgets: tuple[int, ...], log: bool) -> dict[int, tuple]:
    """One recorder per budget, fed in one pass through rec.line(); (kept x, kept y, finalize s)."""
    recs = {b: CurveRecorder(budget=b) for b in budgets}
    for rec in recs.values():
        rec.chart("c", ["y"], yscale="log" if log else "linear")
    lines = [rec.line("y") for rec in recs.values()]
    for i in range(0, x.size, 1_000_000):
        xs, ys = x[i:i + 1_000_000].tolist(), y[i:i + 1_000_000].tolist()
        for line in lines:
            for s, v in zip(xs, ys):
                line(s, v)
    out = {}
    for b, rec in recs.items():
        t0 = time.thread_time()
        doc = rec.finalize()
        secs = time.thread_time() - t0
        ln = doc["charts"][0]["lines"][0]
        out[b] = (np.asarray(ln["x"], dtype=np.int64), np.asarray(ln["y"], dtype=np.float64), secs)
    return out


def cells(lengths: tuple[int, ...], budgets: tuple[int, ...]) -> list[dict]:
    ds = tsdownsample.MinMaxLTTBDownsampler()
    rows = []
    for n in lengths:
        for name in CURVES:
            x, y, log, at = curve(name, n)
            frames = [dataclasses.replace(Frame.of(x, y, log=log), width=w, height=h) for w, h in SIZES]
            full = [rasterise(x, y, f) for f in frames]
            fin = np.isfinite(y)
            xf, yf = x[fin], y[fin]
            spikes = big_spikes(x, y, at) if at.size else at
            ours = _record(x, y, budgets, log)
            for b in budgets:
                ref_s = math.inf
                for _ in range(3):  # the fastest of three passes (a warm one)
                    t0 = time.thread_time()
                    idx = ds.downsample(xf, yf, n_out=b) if xf.size > b else np.arange(xf.size)
                    ref_s = min(ref_s, time.thread_time() - t0)
                mx, my = xf[idx], yf[idx]
                kx, ky, secs = ours[b]
                row = {"n": n, "curve": name, "budget": b, "points": int(kx.size), "finalize_s": secs,
                       "minmaxlttb_s": ref_s, "dev": deviation(kx, ky, x, y, log),
                       "dev_ref": deviation(mx, my, x, y, log), "spikes": int(spikes.size),
                       "spikes_kept": _kept(kx, ky, x, y, spikes), "spikes_ref": _kept(mx, my, x, y, spikes)}
                for (w, h), f, img in zip(SIZES, frames, full, strict=True):
                    row[f"err_{w}x{h}"] = pixel_error(rasterise(kx, ky, f), img)
                    row[f"ref_{w}x{h}"] = pixel_error(rasterise(mx, my, f), img)
                rows.append(row)
            print(f"  n={n:>8} {name}: done", file=sys.stderr, flush=True)
    return rows


def small_lines(reps: int = 5) -> list[dict]:
    """finalize() thread CPU time of short lines (the fixed cost per line), median of ``reps`` recorders."""
    out = []
    for n in SMALL:
        for name in CURVES[:4]:  # the per-step curves (val_loss logs every 100 steps)
            x, y, log, _ = curve(name, n)
            for b in (250, 1000):
                times = []
                for _ in range(reps):
                    rec = recorded(x, y, b, log)
                    t0 = time.thread_time()
                    rec.finalize()
                    times.append(time.thread_time() - t0)
                out.append({"n": n, "curve": name, "budget": b, "finalize_ms": 1e3 * statistics.median(times)})
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else (0.0 if a == 0 else None)


def render(rows: list[dict], small: list[dict]) -> str:
    md = ["# Recorder v3: fidelity at three chart sizes, spikes, finalize (bench/recorder_sizes.py)", ""]
    md += ["| target | measured | |", "|---|---|---|"]
    for w, h in SIZES:
        rs = [q for q in (_ratio(r[f"err_{w}x{h}"], r[f"ref_{w}x{h}"]) for r in rows) if q is not None]
        worst, med = max(rs), statistics.median(rs)
        ok = sum(q <= 1.0 for q in rs)
        md.append(f"| raster error <= 1.0x MinMaxLTTB at {w}x{h}, every cell; median <= 0.8 | {ok}/{len(rs)} cells, "
                  f"worst {worst:.2f}x, median {med:.2f} | {'met' if worst <= 1.0 and med <= 0.8 else 'not met'} |")
    ds = [q for q in (_ratio(r["dev"], r["dev_ref"]) for r in rows) if q is not None]
    md.append(f"| interpolation deviation <= 1.0x MinMaxLTTB, every cell; median <= 0.8 | "
              f"{sum(q <= 1.0 for q in ds)}/{len(ds)} cells, worst {max(ds):.2f}x, "
              f"median {statistics.median(ds):.2f} | "
              f"{'met' if max(ds) <= 1.0 and statistics.median(ds) <= 0.8 else 'not met'} |")
    sp = [r for r in rows if r["spikes"] and r["spikes"] <= r["budget"] // 4]
    if sp:
        full = sum(r["spikes_kept"] == r["spikes"] for r in sp)
        md.append(f"| every spike >= {SPIKE_MIN:g}x its level kept while <= budget/4 | {full}/{len(sp)} cells | "
                  f"{'met' if full == len(sp) else 'not met'} |")
    big = [r for r in rows if r["n"] == max(q["n"] for q in rows) and r["budget"] in (1000, 4000)
           and r["curve"] != "val_loss"]  # val_loss holds n/100 points: its MinMaxLTTB pass takes ~1 ms
    if big:
        fr = [r["finalize_s"] / r["minmaxlttb_s"] for r in big]
        md.append(f"| finalize() <= 1.5x one MinMaxLTTB pass at n={big[0]['n']:.0e}, budget 1000 and 4000 | "
                  f"worst {max(fr):.2f}x, median {statistics.median(fr):.2f}x (val_loss apart) | "
                  f"{'met' if max(fr) <= 1.5 else 'not met'} |")
    if small:
        worst = max(s["finalize_ms"] for s in small)
        md.append(f"| finalize() <= 3 ms per line under 10^4 points | worst {worst:.1f} ms, median "
                  f"{statistics.median(s['finalize_ms'] for s in small):.1f} ms | "
                  f"{'met' if worst <= 3 else 'not met'} |")
    md += ["", "## Per cell", "",
           "| curve | n | budget | " + " | ".join(f"raster {w}x{h}" for w, h in SIZES)
           + " | interp. dev. | spikes kept (ours / MinMaxLTTB / >=5x) | finalize / MinMaxLTTB (ms) |",
           "|---" * (5 + len(SIZES)) + "|"]
    for r in rows:
        cells_ = [f"{_fmt(_ratio(r[f'err_{w}x{h}'], r[f'ref_{w}x{h}']))} ({r[f'err_{w}x{h}']:.3f})" for w, h in SIZES]
        spikes = f"{r['spikes_kept']} / {r['spikes_ref']} / {r['spikes']}" if r["spikes"] else "–"
        md.append(f"| {r['curve']} | 10^{round(np.log10(r['n']))} | {r['budget']} | " + " | ".join(cells_)
                  + f" | {_fmt(_ratio(r['dev'], r['dev_ref']))} | {spikes} | "
                  f"{r['finalize_s'] / max(r['minmaxlttb_s'], 1e-9):.2f}x ({1e3 * r['finalize_s']:.0f} / "
                  f"{1e3 * r['minmaxlttb_s']:.0f}) |")
    if small:
        md += ["", "## finalize() of short lines (fixed cost per line), ms", "", "| curve | n | budget | ms |",
               "|---|---|---|---|"]
        md += [f"| {s['curve']} | {s['n']} | {s['budget']} | {s['finalize_ms']:.1f} |" for s in small]
    return "\n".join(md) + "\n"


def _fmt(q: float | None) -> str:
    return "–" if q is None else f"{q:.2f}x"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-n", type=int, default=max(LENGTHS))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "recorder_sizes.md")
    a = ap.parse_args()
    started = time.perf_counter()
    rows = cells(tuple(n for n in LENGTHS if n <= a.max_n), BUDGETS)
    small = small_lines()
    text = render(rows, small) + f"\n{time.perf_counter() - started:.0f} s.\n"
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    a.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "small": small}, indent=1))
    print(text)
