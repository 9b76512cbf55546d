"""Forecast accuracy: each model's validation MAE ÷ the 4-week same-weekday mean's, next to the noise floor.

Run by hand: ``.venv/bin/python bench/bench_trainers.py [--seeds 0 1] [--epochs N] [--quick]``.
On the built-in data (``BUILTIN_DATA``: 3 stores × 4 products × 730 days), for three series in each of
the product, store and global modes, every model is trained with its default settings (``TrainConfig()``
and default sizes; ``--quick``: the main job's small models and settings) and scored on the same
validation windows as the baselines. Columns are ratios to the MAE of the 4-week same-weekday mean
(below 1 beats it; target: every model ≤ 0.85 in the median and < 1 on every series): last week's value
(seasonal naive), the generator's own mean (the noise floor: no forecaster beats it on average), and each
model's median over the seeds. ``--target-transform none`` trains on raw sales instead of log1p, to
measure what the transform buys. torch uses one thread per process (``--threads``); ``--jobs N`` trains
N runs at a time in separate processes (the numbers do not depend on it: each run is seeded).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from curvewatch.trainers import MODEL_TYPES, SeriesSpec, TrainConfig, TrainRequest, fit, prepare
from curvewatch.trainers.data import generate_sales_with_mean, make_windows, select_series
from curvewatch.trainers.data.selection import Series
from curvewatch.trainers.loop import predict_windows
from curvewatch.trainers.main_job import QUICK_MODEL_PARAMS
from curvewatch.trainers.request import BUILTIN_DATA

SERIES = {
    "product": [SeriesSpec("product", product=p) for p in ("P001", "P002", "P003")],
    "store": [SeriesSpec("store", store=s) for s in ("S001", "S002", "S003")],
    # global stores/products scopes would repeat the store/product series above: these three differ
    "global": [SeriesSpec("global", scope="all"), SeriesSpec("global", scope="all", aggregation="mean"),
               SeriesSpec("global", scope="custom", store="S002", product="P003")],
}


def _name(spec: SeriesSpec) -> str:
    ids = (spec.store, spec.product) if spec.mode == "global" else (spec.product or spec.store,)
    return "/".join(v for v in (spec.mode, *ids, spec.scope, spec.aggregation if spec.mode == "global" else "") if v)


def _floor(spec: SeriesSpec, data, mean, windows) -> float:
    """MAE of the generator's own mean on the validation windows."""
    expected = select_series(type(data)(data.dates, data.store_ids, data.product_ids, mean), spec).sales
    as_series = Series(data.dates, expected, np.zeros((len(expected), 0)), ())
    truth = make_windows(as_series, windows.lookback, windows.horizon, target_transform="none").val_sales
    return float((truth - windows.val_sales).abs().mean())


def _model_mae(model_type: str, spec: SeriesSpec, seed: int, args) -> float:
    torch.set_num_threads(args.threads)
    data = generate_sales_with_mean(**BUILTIN_DATA)[0]
    config = TrainConfig(seed=seed, device="cpu", checkpoint_every=0,
                         **({"epochs": args.epochs} if args.epochs else {}),
                         **({"batch_size": 64, "lr": 3e-3, "patience": 5} if args.quick else {}))
    request = TrainRequest(model_type, spec, config, target_transform=args.target_transform,
                           model_params=QUICK_MODEL_PARAMS[model_type] if args.quick else {})
    prepared = prepare(request, data)
    fit(prepared.model, prepared.windows, config)
    forecasts = predict_windows(prepared.model, prepared.windows.val_x, prepared.windows.val_future,
                                prepared.windows.scaler)
    return float((forecasts - prepared.windows.val_sales).abs().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=None, help="default: TrainConfig's")
    parser.add_argument("--quick", action="store_true", help="the main job's small models and settings")
    parser.add_argument("--models", nargs="*", default=list(MODEL_TYPES))
    parser.add_argument("--modes", nargs="*", default=list(SERIES))
    parser.add_argument("--series-per-mode", type=int, default=3)
    parser.add_argument("--target-transform", default="log1p")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data, mean = generate_sales_with_mean(**BUILTIN_DATA)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), seeds {args.seeds}, epochs "
          f"{args.epochs or TrainConfig().epochs}{' (--quick)' if args.quick else ''}, target "
          f"{args.target_transform}; ratios = MAE / MAE of the 4-week same-weekday mean", flush=True)
    print(f"{'series':22s} {'4w MAE':>7s} {'naive':>6s} {'floor':>6s} " + " ".join(f"{m:>11s}" for m in args.models))
    ratios: dict[str, list[float]] = {m: [] for m in args.models}
    started = time.perf_counter()
    specs = [spec for mode in args.modes for spec in SERIES[mode][: args.series_per_mode]]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = {(i, m, s): pool.submit(_model_mae, m, spec, s, args)
                for i, spec in enumerate(specs) for m in args.models for s in args.seeds}
        for i, spec in enumerate(specs):
            windows = make_windows(select_series(data, spec), 28, 7)
            base = {k: float((v - windows.val_sales).abs().mean()) for k, v in windows.val_baselines.items()}
            mean4 = base["weekday_mean_4w"]
            row = [f"{_name(spec):22s} {mean4:7.2f} {base['seasonal_naive'] / mean4:6.2f} "
                   f"{_floor(spec, data, mean, windows) / mean4:6.2f}"]
            for model_type in args.models:
                ratio = statistics.median(runs[i, model_type, s].result() / mean4 for s in args.seeds)
                ratios[model_type].append(ratio)
                row.append(f"{ratio:11.3f}")
            print(" ".join(row), flush=True)
    print(f"{'median over series':44s} " + " ".join(f"{statistics.median(ratios[m]):11.3f}" for m in args.models))
    print(f"{'worst series':44s} " + " ".join(f"{max(ratios[m]):11.3f}" for m in args.models))
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
