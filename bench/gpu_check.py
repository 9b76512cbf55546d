"""GPU check of CurveRecorder.log() with CUDA tensors (run by hand on a CUDA machine, < 60 s).

    python bench/gpu_check.py          # from the repository root, after `pip install -e .`

Checks, each printed as PASS/FAIL, exit status 1 when one fails (2: no CUDA device):
1. No per-step sync: ``log()`` of CUDA 0-d tensors runs under
   ``torch.cuda.set_sync_debug_mode("error")`` (any synchronizing CUDA call raises).
2. Values as logged: a CUDA tensor changed in place (``fill_``) after each ``log()`` is recorded
   with the value it had at that call; an accumulator (``total += x``) likewise.
3. Cost: ``log()`` of a CUDA 0-d tensor vs of a float, and vs ``Gauge.set(t.item())`` (which
   syncs), in microseconds per call (informative; printed, not judged).
4. Signals (curvewatch.signals): the gradient norm meter's ``update`` and the spike detector's ``log`` of
   CUDA tensors run under ``set_sync_debug_mode("error")`` and read back the right values afterwards;
   the device gauges read this process's real memory (allocated >= a 256 MiB tensor; NVML utilisation
   and temperature when nvidia-ml-py is installed) and a scrape costs <= 1 ms per device.
"""

from __future__ import annotations

import sys
import time

import torch
from curvewatch import CurveRecorder

STEPS = 2000  # below the log buffer's fold size (FLUSH_EVERY, 16384): no fold, so no conversion, inside the checks


def _values(doc: dict, metric: str) -> list[float]:
    return next(line["y"] for chart in doc["charts"] for line in chart["lines"] if line["metric"] == metric)


def check_no_sync(dev: torch.device) -> bool:
    rec = CurveRecorder(budget=STEPS)
    losses = [torch.tensor(float(s), device=dev) for s in range(STEPS)]
    CurveRecorder(budget=8).log(0, warm=losses[0])  # allocates the staging buffer before the check
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for s, t in enumerate(losses):
            rec.log(s, loss=t, lr=0.1)
    except RuntimeError as exc:
        print(f"FAIL no per-step sync: log() synchronized at a call: {exc}")
        return False
    finally:
        torch.cuda.set_sync_debug_mode("default")
    ok = _values(rec.finalize(), "loss") == [float(s) for s in range(STEPS)]
    print(f"{'PASS' if ok else 'FAIL'} no per-step sync: {STEPS} log() calls of CUDA 0-d tensors under "
          "set_sync_debug_mode('error'), values read back at finalize()")
    return ok


def check_values_as_logged(dev: torch.device) -> bool:
    rec = CurveRecorder(budget=100)
    v = torch.zeros((), device=dev)
    total = torch.zeros((), device=dev)
    for s in range(50):
        v.fill_(s)
        total += 1.0
        rec.log(s, x=v, total=total)
    v.fill_(-1.0)
    doc = rec.finalize()
    ok = _values(doc, "x") == [float(s) for s in range(50)]
    ok = ok and _values(doc, "total") == [float(s + 1) for s in range(50)]
    print(f"{'PASS' if ok else 'FAIL'} values as logged: fill_() and += after log() do not change recorded values")
    return ok


def timings(dev: torch.device) -> None:
    import prometheus_client

    n = 20_000
    ts = [torch.tensor(0.5, device=dev) for _ in range(n)]
    fs = [0.5] * n
    g = prometheus_client.Gauge("x", "x", registry=prometheus_client.CollectorRegistry())
    torch.cuda.synchronize()
    out = {}
    for name, items, fn in (("float", fs, None), ("cuda 0-d", ts, None), ("Gauge.set(t.item())", ts[:2000], g)):
        rec = CurveRecorder(budget=1000)
        log = rec.log
        t0 = time.perf_counter()
        if fn is None:
            for s, x in enumerate(items):
                log(s, loss=x)
            rec.snapshot()  # includes the per-fold conversion
        else:
            for x in items:
                fn.set(x.item())
        torch.cuda.synchronize()
        out[name] = (time.perf_counter() - t0) / len(items) * 1e6
    print("timing (us per call): " + ", ".join(f"{k} {v:.2f}" for k, v in out.items())
          + f"; cuda 0-d / float {out['cuda 0-d'] / out['float']:.1f}x, "
          f"cuda 0-d / Gauge.set(t.item()) {out['cuda 0-d'] / out['Gauge.set(t.item())']:.2f}x")


def check_signals(dev: torch.device) -> bool:
    from curvewatch.prom import RunInfo
    from curvewatch.signals import GradNormMeter, SignalsCollector, SpikeDetector, TorchCudaDevices
    from prometheus_client import CollectorRegistry

    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8)).to(dev)
    model(torch.randn(32, 64, device=dev)).square().mean().backward()
    meter, detector = GradNormMeter(), SpikeDetector()
    losses = [torch.tensor(1.0 if s != 300 else 9.0, device=dev) for s in range(1000)]
    meter.update(model.parameters())  # allocates the histogram before the check
    detector.log(0, {"warm": losses[0]})
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(100):
            meter.update(model.parameters())
        for s, t in enumerate(losses, start=1):  # under DRAIN_EVERY values: staged, no drain inside
            detector.log(s, {"loss": t})
    except RuntimeError as exc:
        print(f"FAIL signals: a synchronizing call per step: {exc}")
        return False
    finally:
        torch.cuda.set_sync_debug_mode("default")
    expected = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
    reading = meter.reading()
    lines = {line.metric: line for line in detector.lines()}
    ok = reading.steps == 101 and abs(reading.last - expected) <= 1e-4 * expected
    ok = ok and lines["loss"].events == 1 and lines["loss"].last_step == 301
    print(f"{'PASS' if ok else 'FAIL'} signals without a sync: 100 grad norm updates and 1000 spike detector logs "
          f"of CUDA tensors under set_sync_debug_mode('error'); norm {reading.last:.4g} (clip_grad_norm_ "
          f"{expected:.4g}), spike at step {lines['loss'].last_step}")
    block = torch.empty(256 * 2**20, dtype=torch.uint8, device=dev)
    readings = {r.device: r for r in TorchCudaDevices().read()}
    mine = readings.get(f"cuda:{dev.index or 0}")
    registry = CollectorRegistry()
    SignalsCollector(RunInfo(run_id="gpu-check"), devices=TorchCudaDevices(), registry=registry)
    start = time.perf_counter()
    for _ in range(100):
        list(registry.collect())
    per_device_ms = (time.perf_counter() - start) / 100 / max(len(readings), 1) * 1e3
    good = mine is not None and mine.allocated >= block.numel() and mine.peak >= mine.allocated
    good = good and per_device_ms <= 1.0
    nvml = "absent" if mine is None or mine.utilization is None else (
        f"utilisation {mine.utilization:.0%}, {mine.temperature:.0f} C")
    print(f"{'PASS' if good else 'FAIL'} device gauges: {len(readings)} device(s), allocated "
          f"{0 if mine is None else mine.allocated / 2**20:.0f} MiB, NVML {nvml}; scrape {per_device_ms:.3f} ms per "
          "device (limit 1 ms)")
    del block
    return ok and good


def main() -> int:
    if not torch.cuda.is_available():
        print("No CUDA device: this check needs one (torch.cuda.is_available() is False).")
        return 2
    dev = torch.device("cuda")
    started = time.perf_counter()
    ok = check_no_sync(dev) & check_values_as_logged(dev) & check_signals(dev)
    timings(dev)
    print(f"{'all checks passed' if ok else 'a check FAILED'} in {time.perf_counter() - started:.1f} s "
          f"({torch.cuda.get_device_name(dev)}, torch {torch.__version__})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
