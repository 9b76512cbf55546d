"""Training throughput (samples/s) per model: curvewatch recording + exposing vs the bare loop.

Run by hand: ``.venv/bin/python bench/bench_trainers.py [--epochs 6] [--repeats 3]``. Both variants run the
same ``trainers.fit`` on the same built-in data; "curvewatch" adds a recorder with the trainer charts and
an Exporter endpoint scraped once a second by a background thread (as Prometheus would). Variants
alternate and the median of the repeats is reported; overhead target: at most 2 %.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import urllib.request

import torch

from trainers import MODEL_TYPES, SeriesSpec, TrainConfig, build_model, fit, generate_sales, make_recorder
from trainers.data import make_windows, select_series


def _scraper(url: str, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        urllib.request.urlopen(url, timeout=5).read()


def _one(model_type: str, windows, config: TrainConfig, instrumented: bool) -> float:
    torch.manual_seed(0)
    model = build_model(model_type, windows.n_features, windows.lookback, windows.horizon)
    recorder = exporter = None
    stop = threading.Event()
    if instrumented:
        from exporter.prom import Exporter, RunInfo

        recorder = make_recorder()
        exporter = Exporter(recorder, run=RunInfo(run_id=f"bench-{model_type}", model_type=model_type))
        exporter.start(port=0, addr="127.0.0.1")
        threading.Thread(target=_scraper, args=(exporter.url, stop), daemon=True).start()
    start = time.perf_counter()
    fit(model, windows, config, recorder=recorder)
    elapsed = time.perf_counter() - start
    stop.set()
    if exporter is not None:
        exporter.stop()
    return len(windows.train_x) * config.epochs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=list(MODEL_TYPES))
    args = parser.parse_args()
    data = generate_sales(stores=3, products=4, days=730)
    windows = make_windows(select_series(data, SeriesSpec("product", product="P001")), 28, 7)
    config = TrainConfig(epochs=args.epochs, batch_size=32, patience=0, checkpoint_every=0, device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(windows.train_x)} train windows")
    print(f"{'model':12s} {'bare samples/s':>15s} {'curvewatch':>12s} {'overhead':>9s}")
    for model_type in args.models:
        _one(model_type, windows, TrainConfig(epochs=1, device="cpu"), False)  # warm-up
        bare, watched = [], []
        for _ in range(args.repeats):
            bare.append(_one(model_type, windows, config, False))
            watched.append(_one(model_type, windows, config, True))
        b, w = statistics.median(bare), statistics.median(watched)
        print(f"{model_type:12s} {b:15.0f} {w:12.0f} {100 * (b - w) / b:8.2f}%")


if __name__ == "__main__":
    main()
