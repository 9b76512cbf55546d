"""The baselines every run is compared with: seasonal naive and the 4-week same-weekday mean.

Both forecast the ``horizon`` days from ``origin`` (the first forecast day) using only sales before it:

- ``seasonal_naive``: day ``origin + h`` gets the latest value on the same weekday before ``origin``,
  ``sales[origin + h - 7·m]`` with ``m = ceil((h + 1) / 7)`` (last week's value for ``h < 7``);
- ``weekday_mean_4w``: the mean of the latest ``BASELINE_WEEKS`` (4) such values.

A weekday with no value before ``origin`` (the first week of data) falls back to ``sales[origin - 1]``;
the first weeks average the values that exist. ``baseline_scores`` scores them with the models' own
metrics (``RegressionSums``), so a model's MAE and a baseline's are computed alike on the same windows.
MASE is MAE ÷ the seasonal-naive MAE on the same windows: below 1 beats last week's value, and the
seasonal-naive forecast itself scores exactly 1 (``mase_of_seasonal_naive_is_exactly_one``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._constants import BASELINE_WEEKS, BASELINES
from .metrics import RegressionSums

__all__ = ["baseline_forecasts", "baseline_scores", "horizon_mae", "mase", "same_weekday_lags", "scores"]


def same_weekday_lags(horizon: int, weeks: int) -> list[list[int]]:
    """For each horizon day ``h``, the ``weeks`` lags (days back from ``origin``) of its latest same weekdays."""
    return [[7 * (-(-(h + 1) // 7) + k) - h for k in range(weeks)] for h in range(horizon)]


def _same_weekday_mean(sales: np.ndarray, origins: np.ndarray, horizon: int, weeks: int) -> np.ndarray:
    lags = np.asarray(same_weekday_lags(horizon, weeks))  # (H, weeks): origin - lag is the day used
    days = origins[:, None, None] - lags[None]  # (n, H, weeks)
    valid = days >= 0
    values = np.where(valid, sales[np.clip(days, 0, None)], 0.0)
    count = valid.sum(axis=2)
    fallback = sales[np.clip(origins - 1, 0, None)][:, None]
    return np.where(count > 0, values.sum(axis=2) / np.maximum(count, 1), fallback)


def baseline_forecasts(sales: np.ndarray, origins: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """``{name: (n, horizon) forecasts}`` for the windows starting at ``origins`` (indices into ``sales``)."""
    sales, origins = np.asarray(sales, dtype=np.float64), np.asarray(origins, dtype=np.int64)
    return {"seasonal_naive": _same_weekday_mean(sales, origins, horizon, 1),
            "weekday_mean_4w": _same_weekday_mean(sales, origins, horizon, BASELINE_WEEKS)}


def mase(mae: float, naive_mae: float) -> float:
    """MAE ÷ seasonal-naive MAE; NaN when the naive forecast is perfect (its MAE is 0)."""
    return mae / naive_mae if naive_mae > 0 else math.nan


def horizon_mae(forecasts, target) -> list[float]:
    """MAE of each horizon day (column), in the target's units."""
    err = torch.as_tensor(forecasts, dtype=torch.float64) - torch.as_tensor(target, dtype=torch.float64)
    return [float(v) for v in err.abs().mean(dim=0)]


def scores(forecasts, target, naive_mae: float) -> dict[str, float]:
    """MAE, RMSE, MAPE, R², MASE and per-horizon-day MAE of ``forecasts`` against ``target``."""
    sums = RegressionSums()
    sums.update(torch.as_tensor(forecasts, dtype=torch.float64), torch.as_tensor(target, dtype=torch.float64))
    out = {k: float(v) for k, v in sums.metrics().items() if k != "mse"}
    out["mase"] = mase(out["mae"], naive_mae)
    out["horizon_mae"] = horizon_mae(forecasts, target)
    return out


def baseline_scores(baselines: dict[str, np.ndarray], target) -> dict[str, dict]:
    """``{name: scores}`` of each baseline (``BASELINES`` order) on the validation targets."""
    naive_mae = float(np.mean(np.abs(np.asarray(baselines["seasonal_naive"]) - np.asarray(target))))
    return {name: {"description": BASELINES[name], **scores(baselines[name], target, naive_mae)}
            for name in BASELINES}
