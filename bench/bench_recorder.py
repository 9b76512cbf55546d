"""Recorder benchmark: the grid against offline MinMaxLTTB (issue 12), other methods (issue 3),
cost per scalar and memory, side by side.

    .venv/bin/python bench/bench_recorder.py                 # grid + cost (~10 min on 2 busy cores)
    .venv/bin/python bench/bench_recorder.py --quick         # lengths up to 10^5, fewer repetitions
    .venv/bin/python bench/bench_recorder.py --only grid --only cost --only fidelity --only memory

Writes bench/results/recorder.md (markdown tables) and prints it. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import tsdownsample
from curvewatch import CurveRecorder
from curvewatch.recorder._logbuf import compiled
from curvewatch.synthetic import synthetic_run
from raster import Frame, pixel_error, rasterise
from recorder_cost import cost
from recorder_grid import BUDGETS as GRID_BUDGETS
from recorder_grid import LENGTHS as GRID_LENGTHS
from recorder_grid import grid
from recorder_report import render

HERE = Path(__file__).resolve().parent
BUDGETS = (1000, 4000)
SPIKY = ("spiky_loss", "diverging_loss")  # the curves the 1.05x MinMaxLTTB target is about
PER_POINT = ("reservoir", "curvewatch")  # methods with a Python call per point: 10^7 on SPIKY only
CHUNK = 1_000_000  # points converted to Python floats at a time when streaming
REF = "minmaxlttb"
SEEDS = {10**3: 5, 10**4: 5, 10**5: 5, 10**6: 2, 10**7: 1}  # curves averaged per length (errors are noisy)


# -- curves --------------------------------------------------------------------------------
def spiky_loss(n: int, seed: int, diverge: bool) -> tuple[np.ndarray, np.ndarray]:
    """The decaying noisy loss of exporter.synthetic, with the spike steps returned."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    y = np.abs(0.05 + 2.0 / np.sqrt(1.0 + t / max(n / 2000, 1)) + 0.03 * rng.standard_normal(n))
    end = int(n * 0.97) if diverge else n
    spikes = np.sort(rng.choice(end, size=max(3, n // 20_000), replace=False))
    y[spikes] *= rng.uniform(5, 20, size=spikes.size)
    if diverge:
        y[end:end + 5] = y[end] * np.array([10, 100, 1e4, 1e8, 1e30])[: n - end]
        y[end + 5:] = np.nan
        y[end + 5:end + 6] = np.inf
    return y, spikes


def curves(n: int, seed: int) -> dict[str, tuple[np.ndarray, bool, np.ndarray]]:
    """name -> (values at steps 0..n-1, log scale?, spike steps)."""
    syn = synthetic_run(n, seed=seed, val_every=1, diverge=False)
    none = np.empty(0, dtype=np.int64)
    y, sp = spiky_loss(n, seed, False)
    yd, spd = spiky_loss(n, seed + 1000, True)
    return {"spiky_loss": (y, True, sp), "diverging_loss": (yd, True, spd),
            "val_loss": (syn["val_loss"], True, none), "val_acc": (syn["val_acc"], False, none),
            "lr": (syn["lr"], True, none)}


# -- methods: (x, y, budget) -> (kept x, kept y, bytes of state) ----------------------------
def _chunks(x: np.ndarray, y: np.ndarray):
    """(steps, values) as Python ints and floats, a chunk at a time (a 10^7 list would skew RSS)."""
    for i in range(0, x.size, CHUNK):
        yield zip(x[i:i + CHUNK].tolist(), y[i:i + CHUNK].tolist(), strict=True)


def m_reservoir(x, y, budget):
    from tensorboard.backend.event_processing import reservoir

    r = reservoir.Reservoir(size=budget)  # as EventAccumulator keeps scalars, fed step by step
    add = r.AddItem
    for chunk in _chunks(x, y):
        for s, v in chunk:
            add("t", (s, v))
    items = r.Items("t")
    return np.array([s for s, _ in items]), np.array([v for _, v in items]), 16 * len(items)


def m_stride(x, y, budget):
    idx = np.arange(0, x.size, max(1, math.ceil(x.size / budget)))  # needs n in advance
    return x[idx], y[idx], 16 * idx.size


def m_piecewise(x, y, budget):
    s = x
    keep = (s < 1000) | ((s < 10**4) & (s % 10 == 0)) | ((s < 10**5) & (s % 50 == 0)) \
        | ((s < 10**6) & (s % 200 == 0)) | (s % 1000 == 0)
    return x[keep], y[keep], 16 * int(keep.sum())


def _offline(cls):
    ds = cls()

    def method(x, y, budget):
        ok = np.isfinite(y)  # these downsamplers need finite values: NaN/inf are dropped first
        xf, yf = x[ok], y[ok]
        if xf.size <= budget:
            return xf, yf, 16 * x.size
        idx = ds.downsample(xf, yf, n_out=budget)
        return xf[idx], yf[idx], 16 * x.size  # offline: the whole series is held
    return method


def m_curvewatch(x, y, budget, log=False):
    rec = CurveRecorder(budget=budget)
    rec.chart("c", ["y"], yscale="log" if log else "linear")
    call = rec.log
    for chunk in _chunks(x, y):
        for s, v in chunk:
            call(s, y=v)
    doc = rec.finalize()
    line = next(ln for c in doc["charts"] for ln in c["lines"] if ln["metric"] == "y")
    return np.array(line["x"]), np.array(line["y"], dtype=np.float64), lambda: _saved_size(rec.state_dict())


def _saved_size(state: dict) -> int:
    """Bytes of ``torch.save(state)`` (measured after the timer stops)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getbuffer().nbytes


METHODS = {"reservoir": m_reservoir, "stride": m_stride, "piecewise": m_piecewise,
           "lttb": _offline(tsdownsample.LTTBDownsampler), REF: _offline(tsdownsample.MinMaxLTTBDownsampler),
           "m4": _offline(tsdownsample.M4Downsampler), "curvewatch": m_curvewatch}


# -- fidelity ------------------------------------------------------------------------------
def fidelity(lengths: list[int]) -> list[dict]:
    """One row per (n, curve, budget, method), averaged over ``SEEDS[n]`` random curves."""
    warm = np.arange(20_000, dtype=np.int64)
    for fn in METHODS.values():  # first calls import and initialise; keep them out of the timings
        fn(warm, np.sin(warm / 100.0), 1000)
    runs: dict[tuple, list[dict]] = {}
    for n in lengths:
        x = np.arange(n, dtype=np.int64)
        for seed in range(SEEDS[n]):
            for name, (y, log, spikes) in curves(n, seed).items():
                frame = Frame.of(x, y, log=log)
                full = rasterise(x, y, frame)
                fin = np.isfinite(y)
                extremes = (y[fin].min(), y[fin].max())  # kept exactly (at any step: ties draw the same)
                bad = np.flatnonzero(~fin)
                for budget in BUDGETS:
                    for method, fn in METHODS.items():
                        if n >= 10**7 and method in PER_POINT and name not in SPIKY:
                            continue
                        t0 = time.perf_counter()
                        kx, ky, nbytes = fn(x, y, budget, log) if method == "curvewatch" else fn(x, y, budget)
                        secs = time.perf_counter() - t0
                        runs.setdefault((n, name, budget, method), []).append({
                            "points": int(kx.size), "error": pixel_error(rasterise(kx, ky, frame), full),
                            "spikes": _spikes_kept(frame, kx, ky, spikes, y) if spikes.size else None,
                            "extremes": sum(bool(np.any(ky == v)) for v in extremes),
                            "nonfinite": bool(np.any((kx == bad[0]) & ~np.isfinite(ky))) if bad.size else None,
                            "ns": secs / n * 1e9, "bytes": nbytes() if callable(nbytes) else nbytes})
            print(f"  fidelity n={n:>8} seed {seed}: done", file=sys.stderr, flush=True)
    return [_summary(key, rs) for key, rs in runs.items()]


def _summary(key: tuple, rs: list[dict]) -> dict:
    nf = [r["nonfinite"] for r in rs if r["nonfinite"] is not None]
    return {"n": key[0], "curve": key[1], "budget": key[2], "method": key[3], "seeds": len(rs),
            "error": float(np.mean([r["error"] for r in rs])),
            "spikes": None if rs[0]["spikes"] is None else float(np.mean([r["spikes"] for r in rs])),
            "extremes": sum(r["extremes"] for r in rs), "extremes_of": 2 * len(rs),
            "nonfinite": sum(nf) if nf else None, "nonfinite_of": len(nf),
            "ns": float(np.median([r["ns"] for r in rs])), "points": max(r["points"] for r in rs),
            "bytes": max(r["bytes"] for r in rs)}


def _spikes_kept(frame: Frame, kx, ky, spikes, y) -> float:
    """Fraction of spikes with a kept point within +-1 pixel column and +-1 pixel row."""
    sc, sr = frame.pixels(spikes, y[spikes])
    kc, kr = frame.pixels(kx, ky)
    kc, kr = np.floor(kc), np.floor(np.where(np.isfinite(kr), kr, -9))
    near = (np.abs(kc[None, :] - np.floor(sc)[:, None]) <= 1) \
        & (np.abs(kr[None, :] - np.floor(sr)[:, None]) <= 1)
    return float(near.any(axis=1).mean())


# -- memory --------------------------------------------------------------------------------
def rss_child(n: int) -> None:
    """Log n steps (2 metrics each) into a fresh recorder; print RSS before and after, in KiB."""
    def status(key: str) -> int:
        text = Path("/proc/self/status").read_text()
        return int(next(ln.split()[1] for ln in text.splitlines() if ln.startswith(key + ":")))

    rec = CurveRecorder(budget=1000)
    gc.collect()
    before, hwm = status("VmRSS"), status("VmHWM")
    log = rec.log
    t0 = time.perf_counter()
    for s in range(n):
        log(s, train_loss=1.0 / (s + 1.0), lr=0.1)
    rec.finalize()
    gc.collect()
    print(json.dumps({"n": n, "before": before, "after": status("VmRSS"), "hwm_before": hwm,
                      "peak": status("VmHWM"), "seconds": time.perf_counter() - t0}))


def memory(lengths: list[int]) -> list[dict]:
    out = []
    for n in lengths:
        proc = subprocess.run([sys.executable, __file__, "--rss-child", str(n)], capture_output=True,
                              text=True, check=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        out.append(json.loads(proc.stdout))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="lengths up to 10^5, fewer repetitions")
    ap.add_argument("--only", choices=("grid", "fidelity", "cost", "memory"), action="append")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "recorder.md")
    ap.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rss_child:
        rss_child(a.rss_child)
        sys.exit(0)
    parts = a.only or ["grid", "cost"]
    started = time.perf_counter()
    res: dict = {"mode": "quick" if a.quick else "full", "python": platform.python_version(),
                 "numpy": np.__version__, "tsdownsample": tsdownsample.__version__, "cpus": os.cpu_count(),
                 "load": os.getloadavg()[0], "log_buffer": "compiled" if compiled() else "pure Python",
                 "config": {"budgets": BUDGETS, "methods": list(METHODS), "ref": REF, "seeds": SEEDS, "spiky": SPIKY}}
    if "grid" in parts:
        res["grid"] = grid(tuple(n for n in GRID_LENGTHS if not a.quick or n <= 10**5), GRID_BUDGETS)
    if "fidelity" in parts:
        res["fidelity"] = fidelity([10**k for k in range(3, 6 if a.quick else 8)])
    if "cost" in parts:
        res["cost"] = cost(5 if a.quick else 11, 100_000 if a.quick else 2_000_000)  # long runs: steady state
    if "memory" in parts:
        res["memory"] = memory([10**k for k in range(4, 7 if a.quick else 8)])
    res["seconds"] = time.perf_counter() - started
    text = render(res)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    a.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    print(text)
