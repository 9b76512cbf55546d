"""finalize() at 10^7 steps against one offline MinMaxLTTB pass, cold and warm (issue 25).

    .venv/bin/python bench/recorder_finalize.py [--n 10000000] [--reps 3]

bench/recorder_sizes.py times one finalize() per cell, the first a process runs on that line (cold:
fresh arrays, page faults), against the fastest of three MinMaxLTTB passes. Here each cell's line is
recorded once, its state loaded into ``--reps`` fresh recorders and each finalized: the first is the
cold time, the fastest the warm one, both against the fastest of ``--reps`` MinMaxLTTB passes over the
finite points (made before the timer). Thread CPU time. Writes bench/results/recorder_finalize.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import tsdownsample
from curvewatch import CurveRecorder
from recorder_grid import CURVES, curve, recorded

HERE = Path(__file__).resolve().parent
BUDGETS = (1000, 4000)


def cells(n: int, reps: int) -> list[dict]:
    ds = tsdownsample.MinMaxLTTBDownsampler()
    rows = []
    for name in CURVES[:4]:  # the per-step curves (val_loss holds n/100 points)
        x, y, log, _ = curve(name, n)
        fin = np.isfinite(y)
        xf, yf = x[fin], y[fin]
        for b in BUDGETS:
            state = recorded(x, y, b, log).state_dict()
            times, refs = [], []
            for _ in range(reps):
                r = CurveRecorder(budget=b)
                r.chart("c", ["y"], yscale="log" if log else "linear")
                r.load_state_dict(state)
                t0 = time.thread_time()
                r.finalize()
                times.append(time.thread_time() - t0)
                t0 = time.thread_time()
                ds.downsample(xf, yf, n_out=b)
                refs.append(time.thread_time() - t0)
            rows.append({"curve": name, "n": n, "budget": b, "cold_s": times[0], "warm_s": min(times),
                         "minmaxlttb_s": min(refs)})
            print(f"  {name} budget {b}: done", file=sys.stderr, flush=True)
    return rows


def render(rows: list[dict], n: int) -> str:
    md = [f"# finalize() at n={n:.0e} / one MinMaxLTTB pass (bench/recorder_finalize.py)", "",
          "| curve | budget | cold | warm | MinMaxLTTB ms |", "|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['curve']} | {r['budget']} | {r['cold_s'] / r['minmaxlttb_s']:.2f}x "
                  f"({1e3 * r['cold_s']:.1f} ms) | {r['warm_s'] / r['minmaxlttb_s']:.2f}x ({1e3 * r['warm_s']:.1f} ms) "
                  f"| {1e3 * r['minmaxlttb_s']:.1f} |")
    md.append("")
    for b in BUDGETS:
        warm = [r["warm_s"] / r["minmaxlttb_s"] for r in rows if r["budget"] == b]
        cold = [r["cold_s"] / r["minmaxlttb_s"] for r in rows if r["budget"] == b]
        md.append(f"- budget {b}: warm median {statistics.median(warm):.2f}x, worst {max(warm):.2f}x; cold median "
                  f"{statistics.median(cold):.2f}x, worst {max(cold):.2f}x (target <= 1.5x: "
                  f"{'met' if max(warm) <= 1.5 else 'not met'} warm, {'met' if max(cold) <= 1.5 else 'not met'} cold)")
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**7)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "recorder_finalize.md")
    a = ap.parse_args()
    rows = cells(a.n, a.reps)
    text = render(rows, a.n)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    a.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(text)
