"""Recorder v3 (issue 25): how close can any pick of B points get? A lower bound on the raster error
at each chart size, per cell of the grid, beside MinMaxLTTB's error and the recorder's.

    .venv/bin/python bench/recorder_bound.py               # n 10^4..10^7 (~3.5 min on 2 cores)
    .venv/bin/python bench/recorder_bound.py --max-n 100000
    .venv/bin/python bench/recorder_bound.py --report-only   # the bounds kept, the recorder's errors re-read

Reads bench/results/recorder_sizes.json (run bench/recorder_sizes.py first: it holds MinMaxLTTB's
and the recorder's errors per cell) and writes bench/results/recorder_bound.{md,json}.

The bound. A line of B points whose vertices are points of the series (any pick is) has B - 1
segments. A segment over a run of columns is monotone, so its pieces in those columns cover at most
``|rows it climbs| + columns`` rows, and both its ends lie on the full line's drawing: it matches at
most ``M(run) = min(sum of the full line's rows in the run, hi - lo + 1 + columns)`` of the full
line's pixels, where ``hi``/``lo`` are the full line's highest and lowest row in the run (a vertical
segment inside one column matches at most that column's rows). The most pixels B - 1 segments can
match is at most the best split of the columns into B - 1 runs (neighbouring runs share their end
column, so nothing is missed), found by dynamic programming with a Lagrange multiplier per segment
(any multiplier gives an upper bound; the smallest is kept). Runs longer than ``EXACT_RUN`` columns
take the looser ``H + columns`` (H: the full line's rows from its lowest to its highest), which keeps
the program linear in the width. Every full-line pixel not matched is an error pixel, so
``error >= 1 - matched / the full line's pixels``. Pixels a pick draws off the full line are not
counted: the bound is loose where the best picks draw many of them.

What it tells: in a cell whose bound is near MinMaxLTTB's error, no pick of B points does much better
than MinMaxLTTB at that size, whatever it is judged by; since every pick's ratio in a cell is at
least the cell's bound ratio, the median of the bound ratios is a floor under any pick's median.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from raster import Frame, rasterise
from recorder_grid import BUDGETS, CURVES, LENGTHS, curve
from recorder_sizes import SIZES

__all__ = ["matched_upper_bound"]

HERE = Path(__file__).resolve().parent
EXACT_RUN = 128  # runs of at most this many columns are bounded exactly; longer ones by H + columns
BISECTIONS = 24  # Lagrange multipliers tried per bound


def _best_split(h: np.ndarray, lo: np.ndarray, hi: np.ndarray, tall: float, lam: float) -> tuple[float, int]:
    """max over splits of the columns into runs of sum(M(run) - lam), and the runs it takes."""
    w = h.size
    cum = np.concatenate(([0.0], np.cumsum(h)))
    f = np.full(w, -np.inf)  # best value of runs ending at column e (the last run's end column)
    k = np.zeros(w, dtype=np.int64)
    f[0], k[0] = max(0.0, h[0] - lam), int(h[0] > lam)  # a vertical segment in column 0, or none
    # for runs longer than EXACT_RUN: max over s of f[s] - s (then + tall + e + 1 - lam), a running prefix max
    far, far_k = -np.inf, 0
    for e in range(1, w):
        s0 = max(0, e - EXACT_RUN)
        if s0 > 0 and f[s0 - 1] - (s0 - 1) > far:
            far, far_k = f[s0 - 1] - (s0 - 1), k[s0 - 1]
        starts = np.arange(s0, e)
        back = slice(e, s0 - 1 if s0 else None, -1)  # columns e down to s0 (s0 < e always)
        mh = np.maximum.accumulate(hi[back])[::-1][:-1]  # per start s: the highest row over s..e
        ml = np.minimum.accumulate(lo[back])[::-1][:-1]
        run = np.minimum(cum[e + 1] - cum[starts], np.maximum(mh - ml + 1, 0) + (e - starts + 1))
        v = f[s0:e] + run - lam
        j = int(np.argmax(v))
        best, best_k = v[j], k[s0 + j] + 1
        if far + tall + e + 1 - lam > best:
            best, best_k = far + tall + e + 1 - lam, far_k + 1
        if h[e] > lam:  # and a vertical segment inside column e (its rows counted once more)
            best, best_k = best + h[e] - lam, best_k + 1
        f[e], k[e] = best, best_k
    return float(f[-1]), int(k[-1])


def matched_upper_bound(image: np.ndarray, segments: int) -> float:
    """At most how many of the full line's pixels (``image``: height x width, True where drawn) a
    line of ``segments`` segments between points of the line can draw."""
    h = image.sum(axis=0).astype(np.float64)
    rows = np.arange(image.shape[0])[:, None]
    lo = np.where(h > 0, np.where(image, rows, image.shape[0]).min(axis=0), image.shape[0]).astype(np.float64)
    hi = np.where(h > 0, np.where(image, rows, -1).max(axis=0), -1).astype(np.float64)
    drawn = h > 0
    tall = float(hi[drawn].max() - lo[drawn].min() + 1) if drawn.any() else 0.0
    a, b = 0.0, float(h.max() + tall + 2 * EXACT_RUN)  # at b, no run is worth its multiplier
    bound = float(h.sum())  # every pixel (a multiplier of 0 allows any number of runs)
    for _ in range(BISECTIONS):
        lam = (a + b) / 2
        value, runs = _best_split(h, lo, hi, tall, lam)
        bound = min(bound, value + lam * segments)
        a, b = (lam, b) if runs > segments else (a, lam)
    return min(bound, float(h.sum()))


def _cell(job: tuple[str, int, tuple[int, ...], dict]) -> list[dict]:
    name, n, budgets, known = job
    x, y, log, _ = curve(name, n)
    frames = [dataclasses.replace(Frame.of(x, y, log=log), width=w, height=h) for w, h in SIZES]
    images = [rasterise(x, y, f) for f in frames]
    rows = []
    for b in budgets:
        r, row = known[(name, n, b)], {"curve": name, "n": n, "budget": b}
        for (w, hgt), image in zip(SIZES, images):
            size = f"{w}x{hgt}"
            pixels = max(int(image.sum()), 1)
            floor = max(0.0, 1.0 - matched_upper_bound(image, b - 1) / pixels) if n > b else 0.0
            row[f"bound_{size}"], row[f"ref_{size}"], row[f"err_{size}"] = floor, r[f"ref_{size}"], r[f"err_{size}"]
        rows.append(row)
    print(name, n, "done", flush=True)
    return rows


def _sizes_by_cell(sizes_json: Path) -> dict[tuple[str, int, int], dict]:
    """recorder_sizes.json's rows by (curve, n, budget)."""
    return {(r["curve"], r["n"], r["budget"]): r for r in json.loads(sizes_json.read_text(encoding="utf-8"))["rows"]}


def cells(lengths: tuple[int, ...], budgets: tuple[int, ...], sizes_json: Path, jobs: int) -> list[dict]:
    known = _sizes_by_cell(sizes_json)
    missing = [(c, n, b) for n in lengths for c in CURVES for b in budgets if (c, n, b) not in known]
    if missing:
        sys.exit(f"{sizes_json} has no cell {missing[0]}: run bench/recorder_sizes.py first.")
    work = [(c, n, budgets, {k: v for k, v in known.items() if k[:2] == (c, n)})
            for n in sorted(lengths, reverse=True) for c in CURVES]
    with Pool(jobs) as pool:
        done = pool.map(_cell, work, chunksize=1)
    return sorted((r for rows in done for r in rows), key=lambda r: (r["n"], CURVES.index(r["curve"]), r["budget"]))


def _with_current_errors(bound_json: Path, sizes_json: Path) -> list[dict]:
    """The rows of a previous run (the bounds depend on the curves alone) with the recorder's errors
    taken again from ``sizes_json`` (a recorder change moves those, not the bounds)."""
    if not bound_json.exists():
        sys.exit(f"{bound_json} is missing: run bench/recorder_bound.py without --report-only first.")
    rows = json.loads(bound_json.read_text(encoding="utf-8"))["rows"]
    now = _sizes_by_cell(sizes_json)
    for r in rows:
        key = (r["curve"], r["n"], r["budget"])
        if key not in now:
            sys.exit(f"{sizes_json} has no cell {key}: run bench/recorder_sizes.py first.")
        cell = now[key]
        r.update({k: cell[k] for k in r if k.startswith(("err_", "ref_"))})
    return rows


def _ratio(a: float, ref: float) -> float:
    return a / ref if ref > 0 else 0.0


def report(rows: list[dict]) -> str:
    sizes = [f"{w}x{h}" for w, h in SIZES]
    out = ["# The floor under any pick: raster error bounds (`bench/recorder_bound.py`)", "",
           "Per cell, per chart size: the lower bound on any B-point pick's raster error, as a ratio to "
           "MinMaxLTTB's error (the best ratio any picker could reach there), and the recorder's ratio "
           "(from `recorder_sizes.json`). A bound of 0 says nothing (the bound allows an exact drawing).", "",
           "| size | median bound ratio | cells whose bound ratio > 0.8 | cells whose bound ratio > 0.95 | "
           "recorder's median |", "|---|---|---|---|---|"]
    for s in sizes:
        b = [_ratio(r[f"bound_{s}"], r[f"ref_{s}"]) for r in rows]
        e = [_ratio(r[f"err_{s}"], r[f"ref_{s}"]) for r in rows]
        out.append(f"| {s} | {statistics.median(b):.2f} | {sum(v > 0.8 for v in b)} of {len(b)} | "
                   f"{sum(v > 0.95 for v in b)} of {len(b)} | {statistics.median(e):.2f} |")
    out += ["", "| curve | n | budget | " + " | ".join(f"{s}: bound / recorder" for s in sizes) + " |",
            "|---|---|---|" + "---|" * len(sizes)]
    for r in rows:
        ratios = [f"{_ratio(r[f'bound_{s}'], r[f'ref_{s}']):.2f} / {_ratio(r[f'err_{s}'], r[f'ref_{s}']):.2f}x"
                  for s in sizes]
        out.append(f"| {r['curve']} | 10^{int(round(np.log10(r['n'])))} | {r['budget']} | " + " | ".join(ratios) + " |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-n", type=int, default=max(LENGTHS))
    ap.add_argument("--sizes-json", type=Path, default=HERE / "results" / "recorder_sizes.json")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "recorder_bound.md")
    ap.add_argument("--jobs", type=int, default=2, help="cells bounded at once (processes)")
    ap.add_argument("--report-only", action="store_true",
                    help="keep the bounds of the last run (the .json beside --out), re-read the recorder's errors")
    args = ap.parse_args()
    if args.report_only:
        rows = _with_current_errors(args.out.with_suffix(".json"), args.sizes_json)
    else:
        rows = cells(tuple(n for n in LENGTHS if n <= args.max_n), BUDGETS, args.sizes_json, args.jobs)
    args.out.write_text(report(rows), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
