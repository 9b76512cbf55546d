"""Training throughput (samples/s) per model: curvewatch recording + exposing vs the bare loop.

Run by hand: ``.venv/bin/python bench/bench_trainer_overhead.py [--epochs 6] [--repeats 3]``. Both variants run the
same ``trainers.fit`` on the same built-in data; "curvewatch" adds a recorder with the trainer charts and
an Exporter endpoint scraped once a second by a background thread (as Prometheus would). Variants
alternate (the order flips every repeat); the median and the best (least disturbed) of the repeats are
reported; overhead target: at most 2 %. "in curvewatch" is the share of the instrumented run's wall time
spent inside curvewatch (``log``/``set_epoch``/``state_dict`` calls and the scrapes, which hold the GIL):
an upper bound of the overhead that, unlike the throughput ratio, the machine's noise cannot hide.
torch uses one thread by default (``--threads``): with two
threads on two cores, the scrape thread and the OS make the timings swing by +-10 %.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib.request

import torch
from curvewatch.trainers import MODEL_TYPES, SeriesSpec, TrainConfig, build_model, fit, generate_sales, make_recorder
from curvewatch.trainers.data import make_windows, select_series


def _scraper(url: str, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        urllib.request.urlopen(url, timeout=5).read()


def _timed(fn, spent: list[float]):
    """``fn`` that adds its wall time to ``spent[0]``."""
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0
    return wrapper


SHARES: dict[str, list[float]] = {}


def _one(model_type: str, windows, config: TrainConfig, instrumented: bool) -> float:
    torch.manual_seed(0)
    model = build_model(model_type, windows.n_features, windows.lookback, windows.horizon)
    recorder = exporter = None
    stop = threading.Event()
    if instrumented:
        from curvewatch.prom import Exporter, RunInfo

        recorder = make_recorder()
        exporter = Exporter(recorder, run=RunInfo(run_id=f"bench-{model_type}", model_type=model_type))
        spent = [0.0]  # wall time inside curvewatch: log/set_epoch/state_dict, and scrapes (they hold the GIL)
        for name in ("log", "set_epoch", "state_dict"):
            setattr(recorder, name, _timed(getattr(recorder, name), spent))
        exporter.collector.collect = _timed(exporter.collector.collect, spent)
        exporter.start(port=0, addr="127.0.0.1")
        threading.Thread(target=_scraper, args=(exporter.url, stop), daemon=True).start()
    start = time.perf_counter()
    fit(model, windows, config, recorder=recorder)
    elapsed = time.perf_counter() - start
    stop.set()
    if exporter is not None:
        exporter.stop()
        SHARES.setdefault(model_type, []).append(spent[0] / elapsed)
    return len(windows.train_x) * config.epochs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=list(MODEL_TYPES))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = generate_sales(stores=3, products=4, days=730)
    windows = make_windows(select_series(data, SeriesSpec("product", product="P001")), 28, 7)
    config = TrainConfig(epochs=args.epochs, batch_size=32, patience=0, checkpoint_every=0, device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(windows.train_x)} train windows")
    print(f"{'model':12s} {'bare samples/s':>15s} {'curvewatch':>12s} {'overhead':>9s} "
          f"{'best bare':>10s} {'best cw':>8s} {'overhead':>9s} {'in curvewatch':>14s}")
    for model_type in args.models:
        _one(model_type, windows, TrainConfig(epochs=1, device="cpu"), False)  # warm-up
        bare, watched = [], []
        for i in range(args.repeats):
            for instrumented in (False, True) if i % 2 == 0 else (True, False):
                (watched if instrumented else bare).append(_one(model_type, windows, config, instrumented))
        b, w = statistics.median(bare), statistics.median(watched)
        bb, bw = max(bare), max(watched)
        print(f"{model_type:12s} {b:15.0f} {w:12.0f} {100 * (b - w) / b:8.2f}% "
              f"{bb:10.0f} {bw:8.0f} {100 * (bb - bw) / bb:8.2f}% {100 * statistics.median(SHARES[model_type]):13.3f}%",
              flush=True)


if __name__ == "__main__":
    main()
