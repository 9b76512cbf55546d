"""ModelMonitor's cost next to the model call it wraps, and the join throughput (run by hand).

    .venv/bin/python bench/bench_serving.py [--calls 1000000] [--repeats 5] [--actuals 1000000]

In one run, interleaved, medians of ``--repeats``:
- overhead per prediction (timing, counting into the latency histogram, storing the id and output in the
  pending store, steady state with evictions at the default limit): ``monitor.predict(x, id)`` minus a direct
  call of the same trivial model (target <= 2 us);
- the bundled TCN (default size, 7 input columns, look-back 28, horizon 7) on a batch of one, direct and
  through the monitor: the overhead as a share of its inference time (target <= 2%);
- join throughput: ``record_actuals`` over batches of 10,000 ids of waiting predictions, scalar outputs and
  7-day forecasts joined with the first day's actual (target >= 200,000 actuals/s);
- the HTTP service (stdlib ``ThreadingHTTPServer``) on 127.0.0.1: ``POST /predict`` round trips per second
  from one keep-alive client, with a trivial model and with the TCN, and ``POST /actuals`` of 1,000 ids.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from curvewatch.serving import ModelMonitor


def _monitor(model) -> ModelMonitor:
    return ModelMonitor(model, identifier="product_P001_all_tcn", model_version=1, validation={"mae": 1.0})


def _direct_us(model, x, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        model(x)
    return (time.perf_counter() - start) / calls * 1e6


def _monitored_us(monitor: ModelMonitor, x, calls: int, first_id: int) -> float:
    predict = monitor.predict
    start = time.perf_counter()
    for i in range(first_id, first_id + calls):
        predict(x, i)
    return (time.perf_counter() - start) / calls * 1e6


def _tcn_pair_us(model, monitor: ModelMonitor, calls: int, first_id: int) -> tuple[float, float]:
    """The TCN direct and through the monitor, call by call in turn (so load changes hit both alike)."""
    clock, predict, direct = time.perf_counter, monitor.predict, 0.0
    through = 0.0
    for i in range(first_id, first_id + calls):
        t0 = clock()
        model(None)
        t1 = clock()
        predict(None, i)
        t2 = clock()
        direct, through = direct + t1 - t0, through + t2 - t1
    return direct / calls * 1e6, through / calls * 1e6


def _joins_per_s(output, actual, n: int, batch: int = 10_000) -> float:
    monitor = _monitor(lambda x: output)
    monitor.pending.limit = n  # every prediction waits for its actual
    for i in range(n):
        monitor.predict(None, i)
    values = [actual] * batch
    start = time.perf_counter()
    for first in range(0, n, batch):
        monitor.record_actuals(range(first, first + batch), values)
    elapsed = time.perf_counter() - start
    assert monitor.matched == n
    return n / elapsed


class _Served:
    """A served model for ServingService without an archive: its inputs are the body's ``x``."""

    def __init__(self, model, directory) -> None:
        self.model, self.version_path = model, directory
        self.metadata = {"archive": {"identifier": "product_P001_all_tcn", "version": 1}, "validation": {"mae": 1.0}}

    def prepare(self, body):
        from curvewatch.serving import Prepared

        return Prepared(body.get("x"))

    def __call__(self, inputs):
        return self.model(inputs)

    def answer(self, output, prepared):
        return {"forecast": float(output) if isinstance(output, float) else 0.0}


def _http_per_s(model, requests_n: int) -> tuple[float, float]:
    """(POST /predict round trips per second, actuals per second through POST /actuals of 1,000 ids)."""
    import tempfile

    import requests
    from curvewatch.serving import ServingService

    with tempfile.TemporaryDirectory() as directory:
        service = ServingService([(_Served(model, directory), "primary", 0.0)])
        service.start()
        try:
            session, url = requests.Session(), service.url
            start = time.perf_counter()
            for i in range(requests_n):
                session.post(url + "/predict", data=f'{{"id": "r{i}", "x": 1}}')
            predict_per_s = requests_n / (time.perf_counter() - start)
            batches = [{"actuals": [{"id": f"r{i}", "value": 1.0} for i in range(b, b + 1000)]}
                       for b in range(0, requests_n, 1000)]
            start = time.perf_counter()
            for body in batches:
                session.post(url + "/actuals", json=body)
            actuals_per_s = 1000 * len(batches) / (time.perf_counter() - start)
        finally:
            service.stop()
    return predict_per_s, actuals_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--tcn-calls", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--actuals", type=int, default=1_000_000)
    parser.add_argument("--http-requests", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from curvewatch.trainers.models import build_model

    def trivial(x):
        return 1.0

    tcn = build_model("tcn", 7, 28, 7).eval()
    x, ahead = torch.randn(1, 28, 7), torch.randn(1, 7, 6)

    def tcn_call(_inputs):
        with torch.no_grad():
            return tcn(x, ahead)

    plain, monitored = _monitor(trivial), _monitor(tcn_call)
    rows: dict[str, list[float]] = {k: [] for k in ("direct", "monitor", "tcn", "tcn_monitor", "scalar", "vector")}
    next_id = 0
    for _ in range(args.repeats):
        rows["direct"].append(_direct_us(trivial, None, args.calls))
        rows["monitor"].append(_monitored_us(plain, None, args.calls, next_id))
        tcn_us, tcn_monitor_us = _tcn_pair_us(tcn_call, monitored, args.tcn_calls, next_id)
        rows["tcn"].append(tcn_us)
        rows["tcn_monitor"].append(tcn_monitor_us)
        next_id += args.calls
        rows["scalar"].append(_joins_per_s(12.0, 11.0, args.actuals))
        rows["vector"].append(_joins_per_s([12.0] * 7, 11.0, args.actuals // 4))
    http = [_http_per_s(trivial, args.http_requests), _http_per_s(tcn_call, args.http_requests)]
    m = {k: statistics.median(v) for k, v in rows.items()}
    overhead = m["monitor"] - m["direct"]
    print(f"monitor overhead per prediction: {overhead:.3f} us (monitor.predict {m['monitor']:.3f} us, direct call "
          f"{m['direct']:.3f} us; {m['monitor'] / m['direct']:.2f}x a bare call)  target <= 2 us")
    print(f"bundled TCN, batch of one: {m['tcn']:.1f} us direct, {m['tcn_monitor']:.1f} us monitored; the overhead "
          f"is {100 * overhead / m['tcn']:.3f}% of its inference (monitored/direct "
          f"{m['tcn_monitor'] / m['tcn']:.4f}x)  "
          "target <= 2%")
    print(f"join throughput: {m['scalar']:,.0f} actuals/s (scalar outputs), {m['vector']:,.0f} actuals/s (7-day "
          f"forecasts, first day's actual)  target >= 200,000/s; {m['scalar'] / 200_000:.1f}x the target")
    print(f"HTTP (stdlib server, one keep-alive client): POST /predict {http[0][0]:,.0f}/s with a trivial model, "
          f"{http[1][0]:,.0f}/s with the TCN (its model call is {http[1][0] * m['tcn'] / 1e4:.0f}% of a round trip); "
          f"POST /actuals {http[0][1]:,.0f} actuals/s in batches of 1,000")


if __name__ == "__main__":
    main()
