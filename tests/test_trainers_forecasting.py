"""Forecasters against their baselines: the baselines by hand, MASE, known-future holiday flags, predict's
future rows, and every run's metadata, summary, curves and printout."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from curvewatch.archive import load_model
from curvewatch.cli import main
from curvewatch.trainers import SeriesSpec, TrainConfig, TrainingManager, TrainRequest, build_model, fit, main_job
from curvewatch.trainers.baselines import baseline_forecasts, baseline_scores, scores
from curvewatch.trainers.data import SalesData, Series, generate_sales, make_windows
from curvewatch.trainers.loop import predict_windows

SPEC = SeriesSpec("product", product="P001")


def _tiny_data(days=70, seed=0) -> SalesData:
    rng = np.random.default_rng(seed)
    sales = rng.poisson(20 + 8 * np.sin(2 * np.pi * np.arange(days) / 7)).astype(float)
    sales[rng.integers(0, days, 3)] = 0.0  # zero-sales days: MAPE must stay finite
    return SalesData(dates=np.datetime64("2024-01-01") + np.arange(days), store_ids=("S001",),
                     product_ids=("P001",), sales=sales[:, None, None],
                     features={"promotion": (rng.random((days, 1, 1)) < 0.1).astype(float)},
                     source={"kind": "test"})


def _by_hand(sales, origin, h, weeks):
    """The baseline forecast of day origin + h, written out: the latest same weekdays before origin."""
    same = [d for d in range(origin - 1, -1, -1) if (d - (origin + h)) % 7 == 0][:weeks]
    return sum(sales[d] for d in same) / len(same)


def test_baselines_computed_by_hand_on_a_tiny_series_equal_the_stored_ones(tmp_path):
    data = _tiny_data()
    request = TrainRequest("kan", SPEC, TrainConfig(epochs=1, device="cpu"), lookback=14, horizon=9,
                           model_params={"hidden": 4})
    outcome = TrainingManager(tmp_path / "m", serve=False, quiet=True).train(request, data)
    sales = data.sales[:, 0, 0]
    split = len(sales) - max(9, round(len(sales) * 0.2))
    origins = range(split, len(sales) - 9 + 1)
    target = np.array([[sales[o + h] for h in range(9)] for o in origins])
    naive = np.array([[_by_hand(sales, o, h, 1) for h in range(9)] for o in origins])
    mean4 = np.array([[_by_hand(sales, o, h, 4) for h in range(9)] for o in origins])
    meta = load_model(outcome.version_path)[1]
    stored = meta["baselines"]
    assert stored["seasonal_naive"]["mae"] == pytest.approx(np.abs(naive - target).mean(), rel=1e-12)
    assert stored["weekday_mean_4w"]["mae"] == pytest.approx(np.abs(mean4 - target).mean(), rel=1e-12)
    assert stored["weekday_mean_4w"]["horizon_mae"] == pytest.approx(np.abs(mean4 - target).mean(axis=0))
    assert stored["weekday_mean_4w"]["rmse"] == pytest.approx(np.sqrt(((mean4 - target) ** 2).mean()))
    assert np.isfinite(stored["seasonal_naive"]["mape"])  # zero-sales days divide by MAPE_FLOOR, not 0
    summary = outcome.record.metrics_summary
    assert summary["baseline_weekday_mean_4w_mae"] == stored["weekday_mean_4w"]["mae"]
    assert summary["mae_vs_weekday_mean_4w"] == pytest.approx(summary["val_mae"] / stored["weekday_mean_4w"]["mae"])
    assert summary["val_mase"] == pytest.approx(summary["val_mae"] / stored["seasonal_naive"]["mae"])
    assert len(meta["validation"]["horizon_mae"]) == 9
    assert meta["validation"]["mae"] == pytest.approx(summary["val_mae"])  # best epoch's weights are saved
    curves = json.loads((outcome.version_path / "curves.json").read_text())
    lines = {line["metric"]: line for chart in curves["charts"] for line in chart["lines"]}
    assert lines["baseline_naive_mae"]["y"] == [pytest.approx(stored["seasonal_naive"]["mae"])]  # 1 epoch
    assert lines["val_mase"]["y"] and "baseline_4w_mean_mae" in lines


def test_mase_of_the_seasonal_naive_forecast_itself_is_exactly_one():
    sales = _tiny_data().sales[:, 0, 0]
    origins = np.arange(30, 60)
    forecasts = baseline_forecasts(sales, origins, 7)
    target = np.stack([sales[o : o + 7] for o in origins])
    assert baseline_scores(forecasts, target)["seasonal_naive"]["mase"] == 1.0
    naive_mae = float(np.abs(forecasts["seasonal_naive"] - target).mean())
    assert scores(forecasts["seasonal_naive"], target, naive_mae)["mase"] == 1.0
    assert scores(target, target, naive_mae)["mase"] == 0.0


def _holiday_series(days=600, seed=0) -> Series:
    """Steady sales with a weekly shape; on irregular holidays (every 9 to 20 days) sales fall to 0.3x."""
    rng = np.random.default_rng(seed)
    holiday = np.zeros(days)
    day = 5
    while day < days:
        holiday[day] = 1.0
        day += int(rng.integers(9, 21))
    mean = (40 + 10 * np.sin(2 * np.pi * np.arange(days) / 7)) * np.where(holiday > 0, 0.3, 1.0)
    return Series(dates=np.datetime64("2024-01-01") + np.arange(days), sales=rng.poisson(mean).astype(float),
                  features=holiday[:, None], feature_names=("holiday",))


def test_a_model_given_the_future_holiday_flag_learns_a_holiday_drop_a_look_back_only_model_cannot():
    series = _holiday_series()
    windows = make_windows(series, lookback=14, horizon=7)
    blind = dataclasses.replace(windows, train_future=torch.zeros_like(windows.train_future),
                                val_future=torch.zeros_like(windows.val_future))  # only the look-back
    config = TrainConfig(epochs=12, batch_size=32, lr=3e-3, scheduler="none", patience=0, device="cpu")
    holiday_days = windows.val_future[:, :, 0] > 0  # holiday column of the horizon days (scaled: > 0 is 1)
    holiday_mae = {}
    for name, data in (("told", windows), ("blind", blind)):
        torch.manual_seed(0)
        model = build_model("kan", data.n_features, 14, 7, hidden=8)
        fit(model, data, config)
        error = (predict_windows(model, data.val_x, data.val_future, data.scaler) - data.val_sales).abs()
        holiday_mae[name] = float(error[holiday_days].mean())
    true_drop = 40 * 0.7  # a model that misses the holiday is off by about the drop
    assert holiday_mae["told"] < 0.35 * true_drop, holiday_mae
    assert holiday_mae["blind"] > 0.6 * true_drop, holiday_mae


def _write_csv(path, data, days, with_sales=True):
    lines = ["date,store_id,product_id" + (",sales" if with_sales else "") + ",promotion"]
    for d in days:
        for s, store in enumerate(data.store_ids):
            for p, product in enumerate(data.product_ids):
                sales = f",{data.sales[d, s, p]:g}" if with_sales else ""
                lines.append(f"{data.dates[0] + d},{store},{product}{sales},{data.features['promotion'][d, s, p]:g}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_predict_takes_the_future_flags_and_refuses_a_csv_without_the_rows_it_needs(tmp_path, capsys):
    data = generate_sales(stores=2, products=2, days=130, seed=1)
    history = _write_csv(tmp_path / "sales.csv", data, range(120))
    root = tmp_path / "m"
    assert main(["train", "--model", "kan", "--product", "P001", "--data", str(history), "--root", str(root),
                 "--no-serve", "--quick", "--epochs", "2", "--lookback", "14", "--horizon", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "last week's value (seasonal naive): MAE" in out and "4 weeks: MAE" in out
    version = next(root.glob("product/P001_all/kan/v1"))
    predict = ["predict", "--version-path", str(version), "--days", "5", "--json"]

    assert main(predict) == 0  # no future rows: zeros for the flags, and a sentence saying so
    captured = capsys.readouterr()
    plain = json.loads(captured.out)["sales"]
    assert "promotion are unknown, so the forecast assumes none (0); pass --future FILE" in captured.err

    future = _write_csv(tmp_path / "future.csv", data, range(120, 125), with_sales=False)
    promoted = tmp_path / "promoted.csv"
    promoted.write_text(future.read_text().replace(",0\n", ",1\n"))
    assert main([*predict, "--future", str(promoted)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["sales"] != plain  # the flags reach the model

    short = _write_csv(tmp_path / "short.csv", data, range(120, 123), with_sales=False)
    assert main([*predict, "--future", str(short)]) == 2
    err = capsys.readouterr().err
    assert f"{short} has no row for {data.dates[0] + 123}, {data.dates[0] + 124} (2 of the 5 forecast days" in err
    assert "add one row per day, store and product, or forecast fewer --days" in err and "Traceback" not in err
    no_column = tmp_path / "no_column.csv"
    no_column.write_text("date,store_id,product_id\n2024-01-01,S001,P001\n")
    assert main([*predict, "--future", str(no_column)]) == 2
    assert "has no column promotion; the model needs date, store_id, product_id, promotion" in capsys.readouterr().err


def test_the_main_job_prints_each_forecaster_next_to_its_baselines(tmp_path, capsys):
    lines: list[str] = []
    main_job.run(tmp_path / "m", models=("tcn",), epochs=1, serve=False, quiet=True, out=lines.append)
    text = "\n".join(lines)
    assert main(["train", "--all-models", "--quick", "--epochs", "1", "--no-serve", "--quiet", "--root",
                 str(tmp_path / "raw"), "--target-transform", "none"]) == 0
    assert "(MASE " in capsys.readouterr().out
    for version in (tmp_path / "raw").glob("product/P001_all/*/v1"):
        assert load_model(version)[1]["target_transform"] == "none"
    assert "validation MAE " in text and "(MASE " in text
    assert "last week's value (seasonal naive): MAE " in text and "(model " in text
    assert "mean of the same weekday over the last 4 weeks: MAE " in text
