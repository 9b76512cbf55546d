"""What the training signals cost (run by hand): the spike detector in log(), device reads at scrape.

    .venv/bin/python bench/bench_signals.py [--calls 100000] [--repeats 5] [--out bench/results/signals.md]

1. ``RunTracker.log`` with ``spikes=False`` and ``spikes=True`` (the default: a ``SpikeWatchedRecorder``,
   whose folds feed the detector), a plain ``CurveRecorder.log`` and a ``SpikeWatchedRecorder.log``
   (including the folds and a final ``state_dict()``), and a standalone ``SpikeDetector.log`` (its own log
   buffer, for values no recorder gets), on calls of 1 and 4 floats: thread CPU time per float,
   interleaved in one run, medians of the repeats, ratios with/without. The detector's NumPy pass alone
   (per value, in chunks of ``FLUSH_EVERY``) is printed too.
2. A scrape of the signals collector over 8 devices, the device layer faked at its boundary (the
   ``torch.cuda`` calls), and over this machine's real CUDA devices when there are any: ms per device.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import curvewatch
import numpy as np
from curvewatch.prom import RunInfo
from curvewatch.recorder.recorder import FLUSH_EVERY
from curvewatch.signals import SignalsCollector, SpikeDetector, TorchCudaDevices
from curvewatch.signals._spike_line import LineSpikes, SpikeSettings
from curvewatch.signals.recorded import SpikeWatchedRecorder

NAMES = ("train_loss", "lr", "tokens_per_s", "grad_scale")


def _calls(n: int, floats: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(0)
    noise = (1 + 0.02 * rng.standard_normal((n, floats))).tolist()
    return [dict(zip(NAMES[:floats], row, strict=False)) for row in noise]


def _tracker_ns(root: str, calls: list[dict[str, float]], spikes: bool) -> float:
    run = curvewatch.RunTracker("bench-signals", root=root, db_url=f"sqlite:///{root}/r.db", serve=False,
                                spikes=spikes, devices=False, best="train_loss").start()
    log = run.log
    start = time.thread_time()
    for metrics in calls:
        log(**metrics)
    run.recorder.state_dict()  # the last fold (and, with spikes, the detector's pass over it): both sides
    spent = time.thread_time() - start
    run.fail("benchmark")
    run.close()
    return spent / (len(calls) * len(calls[0])) * 1e9


def _recorder_ns(calls: list[dict[str, float]], kind: str) -> float:
    if kind == "standalone":
        rec: Any = SpikeDetector()
    else:
        rec = curvewatch.CurveRecorder(budget=1000) if kind == "plain" else SpikeWatchedRecorder(spikes=SpikeDetector())
        rec.track_best("train_loss", "min")
    log = rec.log
    start = time.thread_time()
    for step, metrics in enumerate(calls):
        log(step, metrics)
    rec.state_dict()  # the last fold (and the detector's pass over it)
    return (time.thread_time() - start) / (len(calls) * len(calls[0])) * 1e9


def _numpy_pass_ns(values: int) -> float:
    line = LineSpikes(SpikeSettings())
    v = 1 + 0.02 * np.random.default_rng(1).standard_normal(values)
    steps = np.arange(values)
    start = time.thread_time()
    for i in range(0, values, FLUSH_EVERY):
        line.add(steps[i:i + FLUSH_EVERY], v[i:i + FLUSH_EVERY])
    return (time.thread_time() - start) / values * 1e9


class _FakeCuda:
    """torch.cuda's answers for 8 used devices, NVML included (the collector's boundary)."""

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return True

    def device_count(self) -> int:
        return 8

    def current_device(self) -> int:
        return 0

    def memory_allocated(self, device: int) -> int:
        return 2**30

    memory_reserved = max_memory_allocated = memory_allocated

    def utilization(self, device: int) -> int:
        return 90

    def temperature(self, device: int) -> int:
        return 60


def _scrape_ms_per_device(reader: TorchCudaDevices, scrapes: int = 200) -> tuple[float, int]:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    SignalsCollector(RunInfo(run_id="bench"), devices=reader, registry=registry)
    devices = len(reader.read())
    start = time.perf_counter()
    for _ in range(scrapes):
        list(registry.collect())
    return (time.perf_counter() - start) / scrapes / max(devices, 1) * 1e3, devices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/signals.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for floats in (1, 4):
            calls = _calls(args.calls, floats)
            got: dict[str, list[float]] = {k: [] for k in ("tracker off", "tracker on", "plain", "watched",
                                                           "standalone")}
            for _ in range(args.repeats):  # interleaved: the machine's load hits both sides alike
                got["tracker off"].append(_tracker_ns(root, calls, False))
                got["tracker on"].append(_tracker_ns(root, calls, True))
                for kind in ("plain", "watched", "standalone"):
                    got[kind].append(_recorder_ns(calls, kind))
            med = {k: statistics.median(v) for k, v in got.items()}
            rows.append((floats, med))
    numpy_ns = statistics.median(_numpy_pass_ns(1 << 20) for _ in range(args.repeats))
    fake_ms, _ = _scrape_ms_per_device(TorchCudaDevices(_FakeCuda()))
    import torch

    real = "no CUDA device here"
    if torch.cuda.is_available():
        torch.zeros(1, device="cuda")
        real_ms, n = _scrape_ms_per_device(TorchCudaDevices())
        real = f"{real_ms:.3f} ms per device ({n} device(s), {torch.cuda.get_device_name()})"
    lines = ["# Training signals: cost", "",
             f"`python bench/bench_signals.py --calls {args.calls} --repeats {args.repeats}` (thread CPU time, "
             "medians, interleaved in one run; ratios are what to compare).", "",
             "| floats per call | RunTracker.log spikes=False ns/float | spikes=True | ratio | CurveRecorder.log "
             "| SpikeWatchedRecorder.log | ratio | standalone SpikeDetector.log |", "|---|---|---|---|---|---|---|---|"]
    for floats, m in rows:
        lines.append(f"| {floats} | {m['tracker off']:.0f} | {m['tracker on']:.0f} | "
                     f"{m['tracker on'] / m['tracker off']:.3f}x | {m['plain']:.0f} | {m['watched']:.0f} | "
                     f"{m['watched'] / m['plain']:.3f}x | {m['standalone']:.0f} |")
    lines += ["", f"Detector NumPy pass alone: {numpy_ns:.1f} ns per value (chunks of {FLUSH_EVERY}); as a share "
              f"of RunTracker.log per float (4 floats, off): {numpy_ns / rows[1][1]['tracker off']:.1%}.", "",
              f"Scrape of the signals collector, device layer faked (8 devices, NVML on): {fake_ms:.4f} ms per "
              f"device; real: {real}."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
