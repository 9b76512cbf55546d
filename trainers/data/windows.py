"""Sliding windows (look-back L → horizon H, with the horizon's known features), a time split without leakage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from .._constants import CALENDAR_FEATURES, DEFAULT_TARGET_TRANSFORM
from ..baselines import baseline_forecasts
from ..errors import TrainerInputError
from .scaler import Scaler
from .selection import Series

__all__ = ["Scaler", "WindowedData", "calendar_features", "feature_matrix", "make_windows"]


@dataclass(frozen=True)
class WindowedData:
    """Train and validation windows as float32 tensors: ``x`` is ``(n, L, F)``, ``y`` is ``(n, H)`` (scaled).

    ``future`` is ``(n, H, F - 1)``: the known-in-advance columns (every column but sales: holiday and
    promotion flags, CSV features, calendar) of the ``H`` forecast days, scaled like ``x``. Every training
    target lies strictly before ``split_index`` and every validation target at or after it; the scaler
    saw only rows before ``split_index``. ``val_sales`` holds the validation targets in sales units
    (float64) and ``val_baselines`` the baselines' forecasts of them (``trainers/baselines.py``), both
    ``(n_val, H)``: validation window ``i`` forecasts days ``split_index + i`` onwards.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    scaler: Scaler
    lookback: int
    horizon: int
    split_index: int
    split_date: str
    train_future: torch.Tensor
    val_future: torch.Tensor
    val_sales: torch.Tensor
    val_baselines: dict[str, torch.Tensor]

    @property
    def n_features(self) -> int:
        return int(self.train_x.shape[-1])


def calendar_features(dates: np.ndarray) -> np.ndarray:
    """Day-of-week and day-of-year as sin/cos pairs, ``(T, 4)`` in the order of ``CALENDAR_FEATURES``."""
    days = dates.astype("datetime64[D]").view("int64")
    dow = 2 * np.pi * ((days + 3) % 7) / 7.0
    doy = 2 * np.pi * (dates - dates.astype("datetime64[Y]")).astype(int) / 365.25
    return np.stack([np.sin(dow), np.cos(dow), np.sin(doy), np.cos(doy)], axis=1)


def feature_matrix(series: Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """The model input columns ``[sales, *features, *calendar]`` of a series, unscaled."""
    matrix = np.concatenate([series.sales[:, None], series.features, calendar_features(series.dates)], axis=1)
    return matrix, ("sales", *series.feature_names, *CALENDAR_FEATURES)


def make_windows(series: Series, lookback: int, horizon: int, val_fraction: float = 0.2,
                 target_transform: str = DEFAULT_TARGET_TRANSFORM) -> WindowedData:
    """Split ``series`` by time (the last ``val_fraction``, at least ``horizon`` days, is validation) and cut
    windows; raises ``TrainerInputError`` if either part is too short for one window. ``target_transform``
    is the scaler's (``log1p`` or ``none``)."""
    if lookback < 1 or horizon < 1:
        raise TrainerInputError("Look-back and horizon must both be at least 1 day.")
    if not 0.0 < val_fraction < 1.0:
        raise TrainerInputError(f"Validation fraction must be between 0 and 1, got {val_fraction}.")
    total = len(series.sales)
    split = total - max(horizon, int(round(total * val_fraction)))
    if split < lookback + horizon:
        raise TrainerInputError(
            f"Too little data for one window: {total} days leave {max(split, 0)} for training after the "
            f"validation part ({total - split} days), but one window needs look-back {lookback} + horizon "
            f"{horizon} = {lookback + horizon} days; use more days of data or a shorter look-back/horizon."
        )
    matrix, columns = feature_matrix(series)
    scaler = Scaler.fit(matrix[:split], columns, target_transform)
    scaled = scaler.transform(matrix)
    train_x, train_y, train_future = _cut(scaled[:split], lookback, horizon)
    val_x, val_y, val_future = _cut(scaled[split - lookback :], lookback, horizon)
    origins = split + np.arange(len(val_x))
    val_sales = sliding_window_view(np.asarray(series.sales, dtype=np.float64)[split:], horizon)[: len(val_x)]
    baselines = baseline_forecasts(series.sales, origins, horizon)
    return WindowedData(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, scaler=scaler, lookback=lookback,
        horizon=horizon, split_index=split, split_date=str(series.dates[split]), train_future=train_future,
        val_future=val_future, val_sales=torch.tensor(np.ascontiguousarray(val_sales), dtype=torch.float64),
        val_baselines={k: torch.tensor(v, dtype=torch.float64) for k, v in baselines.items()},
    )


def _cut(scaled: np.ndarray, lookback: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Windows of ``scaled``: look-back ``x``, target sales ``y`` and the horizon's known columns."""
    n = len(scaled) - lookback - horizon + 1
    x = sliding_window_view(scaled[: n + lookback - 1], lookback, axis=0)[:n].transpose(0, 2, 1)
    y = sliding_window_view(scaled[lookback:, 0], horizon)[:n]
    future = sliding_window_view(scaled[lookback:, 1:], horizon, axis=0)[:n].transpose(0, 2, 1)
    return tuple(torch.tensor(np.ascontiguousarray(a), dtype=torch.float32) for a in (x, y, future))
