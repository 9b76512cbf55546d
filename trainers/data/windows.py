"""Sliding windows (look-back L → horizon H), a time split without leakage, and a train-only scaler."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from .._constants import CALENDAR_FEATURES
from ..errors import TrainerInputError
from .selection import Series

__all__ = ["Scaler", "WindowedData", "calendar_features", "feature_matrix", "make_windows"]


@dataclass(frozen=True)
class Scaler:
    """Per-column standardisation ``(x - mean) / std``, stored as plain numbers (JSON-safe).

    Column 0 is the sales target, so ``inverse_target`` maps scaled forecasts back to sales units.
    """

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, matrix: np.ndarray, columns: tuple[str, ...]) -> Scaler:
        std = matrix.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)  # a constant column is left unscaled instead of divided by 0
        return cls(tuple(columns), tuple(float(v) for v in matrix.mean(axis=0)), tuple(float(v) for v in std))

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        return (matrix - np.asarray(self.mean)) / np.asarray(self.std)

    def inverse_target(self, values):
        """Scaled sales (numpy array or tensor) back to sales units."""
        return values * self.std[0] + self.mean[0]

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(tuple(d["columns"]), tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))


@dataclass(frozen=True)
class WindowedData:
    """Train and validation windows as float32 tensors: ``x`` is ``(n, L, F)``, ``y`` is ``(n, H)`` (scaled).

    Every training target lies strictly before ``split_index`` and every validation target at or after
    it; the scaler saw only rows before ``split_index``.
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


def make_windows(series: Series, lookback: int, horizon: int, val_fraction: float = 0.2) -> WindowedData:
    """Split ``series`` by time (the last ``val_fraction``, at least ``horizon`` days, is validation) and cut
    windows; raises ``TrainerInputError`` if either part is too short for one window."""
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
    scaler = Scaler.fit(matrix[:split], columns)
    scaled = scaler.transform(matrix)
    train_x, train_y = _cut(scaled[:split], lookback, horizon)
    val_x, val_y = _cut(scaled[split - lookback :], lookback, horizon)
    return WindowedData(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, scaler=scaler, lookback=lookback,
        horizon=horizon, split_index=split, split_date=str(series.dates[split]),
    )


def _cut(scaled: np.ndarray, lookback: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(scaled) - lookback - horizon + 1
    x = sliding_window_view(scaled[: n + lookback - 1], lookback, axis=0)[:n].transpose(0, 2, 1)
    y = sliding_window_view(scaled[lookback:, 0], horizon)[:n]
    return (torch.tensor(np.ascontiguousarray(x), dtype=torch.float32),
            torch.tensor(np.ascontiguousarray(y), dtype=torch.float32))
