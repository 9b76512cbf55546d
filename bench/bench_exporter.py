"""Benchmark of the Prometheus exposure (run by hand: ``.venv/bin/python bench/bench_exporter.py``).

1. ``rec.log()`` with the collector attached and scraped every 100 ms vs. without, side by side
   (alternating rounds, same process), as a ratio.
2. One scrape of 100 runs x 20 lines: time (collect + encode, and over HTTP) and bytes.
3. Per step: hand-rolled ``Gauge.set`` per metric vs. one curvewatch ``log()``.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import requests
from curvewatch import CurveRecorder
from curvewatch.prom import Exporter, RunInfo
from prometheus_client import CollectorRegistry, Gauge, generate_latest

SCRAPE_EVERY_S = 0.1


def _log_loop(rec: CurveRecorder, start: int, steps: int) -> float:
    """Seconds per log() call over ``steps`` calls."""
    t0 = time.perf_counter()
    for step in range(start, start + steps):
        rec.log(step, train_loss=1.0 / (step + 1), lr=0.001)
    return (time.perf_counter() - t0) / steps


def bench_log_overhead(steps: int, rounds: int) -> None:
    plain, watched = CurveRecorder(budget=1000), CurveRecorder(budget=1000)
    exporter = Exporter(watched, run=RunInfo(run_id="bench"))
    exporter.start(port=0)
    stop, scrapes = threading.Event(), []

    def scraper() -> None:
        session = requests.Session()
        while not stop.wait(SCRAPE_EVERY_S):
            scrapes.append(len(session.get(exporter.url, timeout=5).content))

    thread = threading.Thread(target=scraper, daemon=True)
    thread.start()
    without, with_ = [], []
    try:
        for r in range(rounds):  # alternate who goes first, so order effects cancel out
            pair = [(without, plain), (with_, watched)]
            for timings, rec in pair if r % 2 == 0 else reversed(pair):
                timings.append(_log_loop(rec, r * steps, steps))
    finally:
        stop.set()
        thread.join()
        exporter.stop()
    a, b = statistics.median(without), statistics.median(with_)
    print(f"1. log() without exporter: {a * 1e9:8.0f} ns/call (median of {rounds} rounds x {steps} steps)")
    print(
        f"   log() scraped every {SCRAPE_EVERY_S * 1000:.0f} ms: {b * 1e9:8.0f} ns/call "
        f"({len(scrapes)} scrapes) -> ratio {b / a:.3f}"
    )


def bench_big_scrape(runs: int, lines: int, steps: int) -> None:
    exporter, recorders = Exporter(), []
    for r in range(runs):
        rec = CurveRecorder(budget=200)
        rec.track_best("m0", mode="min")
        for step in range(steps):
            rec.log(step, **{f"m{i}": (i + 1) / (step + 1) for i in range(lines)})
        exporter.add(rec, RunInfo(run_id=f"run-{r:03d}", model_type="mlp", rank=0))
        recorders.append(rec)
    live = []
    for _ in range(20):
        t0 = time.perf_counter()
        for rec in recorders:
            rec.live()
        live.append(time.perf_counter() - t0)
    timings = []
    for _ in range(20):
        t0 = time.perf_counter()
        body = generate_latest(exporter.registry)
        timings.append(time.perf_counter() - t0)
    exporter.start(port=0)
    session, http = requests.Session(), []
    for _ in range(20):
        t0 = time.perf_counter()
        size = len(session.get(exporter.url, timeout=10, headers={"Accept-Encoding": "identity"}).content)
        http.append(time.perf_counter() - t0)
    exporter.stop()
    series = body.count(b"\n") - body.count(b"\n#")
    encode_ms, http_ms = statistics.median(timings) * 1e3, statistics.median(http) * 1e3
    print(
        f"2. one scrape of {runs} runs x {lines} lines: collect+encode {encode_ms:.1f} ms, "
        f"over HTTP {http_ms:.1f} ms, {size / 1024:.0f} KiB, {series} series; of which the "
        f"recorders' live() {statistics.median(live) * 1e3:.1f} ms"
    )


def bench_gauge_vs_log(steps: int, metrics: int) -> None:
    registry = CollectorRegistry()
    gauge = Gauge("hand_rolled", "per-step gauge", ["metric"], registry=registry)
    children = [gauge.labels(f"m{i}") for i in range(metrics)]
    rec = CurveRecorder(budget=1000)
    values = {f"m{i}": 0.5 for i in range(metrics)}
    t0 = time.perf_counter()
    for step in range(steps):
        for child in children:
            child.set(1.0 / (step + 1))
    hand = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for step in range(steps):
        rec.log(step, **values)
    ours = (time.perf_counter() - t0) / steps
    print(
        f"3. per step, {metrics:2d} metrics: Gauge.set x{metrics} {hand * 1e9:7.0f} ns "
        f"({hand * 1e9 / metrics:.0f} ns each, spikes between scrapes lost) | "
        f"curvewatch log() {ours * 1e9:7.0f} ns (window min/max, best, NaN counts, curve kept)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    bench_log_overhead(steps=1_000_000 // scale, rounds=8)  # ~0.4 s a round: ~4 scrapes each
    bench_big_scrape(runs=100, lines=20, steps=2000 // scale)
    for metrics in (2, 20):
        bench_gauge_vs_log(steps=200_000 // scale, metrics=metrics)


if __name__ == "__main__":
    main()
