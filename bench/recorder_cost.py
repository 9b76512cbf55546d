"""Cost per scalar of each way to record a float or a 0-d tensor, repetitions interleaved
(bench_recorder.py --only cost)."""

from __future__ import annotations

import gc
import os
import tempfile
import time

import numpy as np
from curvewatch import CurveRecorder

__all__ = ["cost"]


def cost(reps: int, n: int) -> dict[str, list[float]]:
    """ns per scalar of each way to record a float, repetitions interleaved."""
    import prometheus_client
    import torch
    from torch.utils.tensorboard import SummaryWriter

    xs = np.random.default_rng(0).random(n).tolist()
    tensors = [torch.tensor(v) for v in xs[: n // 10]]
    tmp = tempfile.TemporaryDirectory()

    def noop_call():
        f = _noop  # the floor of any f(step, **metrics) API: a call and a kwargs dict
        for s, v in enumerate(xs):
            f(s, loss=v)
        return n

    def append():
        lst = []
        for _s, v in enumerate(xs):
            lst.append(v)
        return n

    def gauge():
        g = prometheus_client.Gauge("x", "x", registry=prometheus_client.CollectorRegistry())
        for _s, v in enumerate(xs):
            g.set(v)
        return n

    def log1():
        log = CurveRecorder(budget=1000).log
        for s, v in enumerate(xs):
            log(s, loss=v)
        return n

    def log4():
        log = CurveRecorder(budget=1000).log
        for s, v in enumerate(xs[: n // 4]):
            log(s, a=v, b=v, c=v, d=v)
        return 4 * (n // 4)

    def pure_python(case):  # the same call on the fallback for machines without a C compiler
        def run():
            os.environ["CURVEWATCH_PURE_PYTHON"] = "1"
            try:
                return case()
            finally:
                del os.environ["CURVEWATCH_PURE_PYTHON"]
        return run

    def gauge_item():
        g = prometheus_client.Gauge("x", "x", registry=prometheus_client.CollectorRegistry())
        for _s, t in enumerate(tensors):
            g.set(t.item())
        return len(tensors)

    def log_tensor():
        rec = CurveRecorder(budget=1000)
        log = rec.log
        for s, t in enumerate(tensors):
            log(s, loss=t)  # a CPU tensor is read at log(): nothing is left to convert (as for floats)
        return len(tensors)

    def add_scalar():
        w = SummaryWriter(tempfile.mkdtemp(dir=tmp.name))
        for s, v in enumerate(xs[:2000]):
            w.add_scalar("loss", v, s)
        w.close()  # flushes the event file
        return 2000

    cases = {"list.append": append, "no-op f(step, /, **metrics)": noop_call, "prometheus Gauge.set": gauge,
             "rec.log(step, loss=x)": log1,
             "rec.log(step, a=, b=, c=, d=) per scalar": log4,
             "rec.log(step, loss=x), pure-Python fallback": pure_python(log1),
             "rec.log(step, a=, b=, c=, d=) per scalar, pure-Python fallback": pure_python(log4),
             "prometheus Gauge.set(t.item()) CPU 0-d": gauge_item,
             "rec.log(step, loss=tensor) CPU 0-d": log_tensor,
             "SummaryWriter.add_scalar": add_scalar}
    out: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(reps):
        names = list(cases)
        names = names[r % len(names):] + names[: r % len(names)]  # rotate the order each repetition
        for name in names:
            gc.collect()
            t0 = time.perf_counter()
            count = cases[name]()
            out[name].append((time.perf_counter() - t0) / count * 1e9)
    tmp.cleanup()
    return out


def _noop(step: int, /, **metrics: float) -> None:
    pass
