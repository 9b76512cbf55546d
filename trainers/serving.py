"""The bundled forecasters as served models (``curvewatch serve-model``), and their reference profile.

    model = ForecasterModel("saved_models/product/P001_all/tcn/v3")     # verified before torch.load
    prepared = model.prepare({"history": {"last_date": "2024-01-31", "sales": [...28], "promotion": [...],
                                          "holiday": [...]}})            # or {"until": "2023-12-01"}
    model.answer(model(prepared.inputs), prepared)                     # {"forecast": {"dates", "sales"}}

A ``/predict`` body gives the look-back data (``history``: the last date and at least ``lookback`` values
of sales and of every feature the version was trained with), or ``until``: a date of the version's own
archived data source, whose look-back ends that day. The forecast covers the model's horizon after the
last date; the forecast days' promotions are 0 unless ``future`` gives them (holidays: the calendar).
Every prediction carries the seasonal-naive forecast (last week's value) for the live MASE, and its
look-back rows for drift. ``training_profile`` is what a version stores at commit (``reference_profile.json``):
the training rows' sales and features, not the calendar columns (a date is not an input that drifts).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import torch
from curvewatch.serving import Prepared, ServingInputError, compute_profile

from ._constants import CALENDAR_FEATURES
from .baselines import same_weekday_lags
from .data import Scaler, SeriesSpec, calendar_features, feature_matrix, select_series
from .errors import TrainerInputError
from .future import future_features
from .predict import load_version_model, training_data

__all__ = ["ForecasterModel", "training_profile"]


def training_profile(matrix: np.ndarray, columns: tuple[str, ...], split_index: int):
    """The reference profile of a version: the non-calendar columns of the rows before the validation split."""
    kept = [i for i, name in enumerate(columns) if name not in CALENDAR_FEATURES]
    return compute_profile(matrix[:split_index], [columns[i] for i in kept], kept)


def _date(text: Any, where: str) -> np.datetime64:
    try:
        return np.datetime64(dt.date.fromisoformat(str(text)), "D")
    except ValueError:
        raise ServingInputError(f"{where} must be a date like 2024-01-31, got {str(text)[:40]!r}.") from None


def _column(history: dict, name: str, need: int) -> np.ndarray:
    values = history.get(name)
    if not isinstance(values, list) or len(values) < need:
        raise ServingInputError(f'history.{name} must be a list of at least {need} numbers (the look-back days).')
    try:
        array = np.asarray(values[-need:], dtype=np.float64)
    except (TypeError, ValueError):
        raise ServingInputError(f"history.{name} must hold numbers only.") from None
    if not np.isfinite(array).all():
        raise ServingInputError(f"history.{name} holds a non-finite value; send finite numbers.")
    return array


class ForecasterModel:
    """One archived forecaster version, callable on prepared inputs; the HTTP body rules are ``prepare``'s."""

    def __init__(self, version_path: str | Path, *, verify: bool = True) -> None:
        self.version_path = Path(version_path)
        try:
            self.model, self.metadata = load_version_model(version_path, verify=verify)
            self.scaler = Scaler.from_dict(self.metadata["scaler"])
            self.lookback, self.horizon = int(self.metadata["lookback"]), int(self.metadata["horizon"])
        except TrainerInputError as exc:
            raise ServingInputError(str(exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ServingInputError(f"{version_path} cannot be served ({exc}); train it again.") from None
        self.features = [n for n in self.scaler.columns[1:] if n not in CALENDAR_FEATURES]
        self._lags = [lags[0] for lags in same_weekday_lags(self.horizon, 1)]
        self._archived = None

    def _archived_matrix(self, until: np.datetime64) -> tuple[np.ndarray, np.datetime64]:
        if self._archived is None:
            series = select_series(training_data(self.metadata["data_source"]), SeriesSpec(**self.metadata["series"]))
            self._archived = (feature_matrix(series)[0], series.dates)
        matrix, dates = self._archived
        end = int((until - dates[0]).astype(int)) + 1
        if end < self.lookback or end > len(dates):
            raise ServingInputError(f"until must be a date from {dates[self.lookback - 1]} to {dates[-1]} (the "
                                    "version's archived data with a full look-back); send history instead.")
        return matrix[end - self.lookback:end], until

    def prepare(self, body: dict) -> Prepared:
        """The model input of a ``/predict`` body (``history`` or ``until``); a bad body raises a sentence."""
        history = body.get("history")
        if history is None and "until" in body:
            matrix, last = self._archived_matrix(_date(body["until"], "until"))
        elif isinstance(history, dict):
            last = _date(history.get("last_date"), "history.last_date")
            columns = [_column(history, "sales", self.lookback)]
            columns += [_column(history, name, self.lookback) for name in self.features]
            days = last - np.arange(self.lookback - 1, -1, -1)
            matrix = np.concatenate([np.stack(columns, axis=1), calendar_features(days)], axis=1)
        else:
            raise ServingInputError('The body needs "history" ({"last_date": "2024-01-31", "sales": [...], '
                                    + ", ".join(f'"{n}": [...]' for n in self.features)
                                    + f"}} with at least {self.lookback} days) or \"until\": a date of the "
                                    "archived data.")
        dates = last + np.arange(1, self.horizon + 1)
        known, notes = future_features(self.metadata, dates)
        future = body.get("future")
        if isinstance(future, dict):
            for name, values in future.items():
                if name not in self.features:
                    raise ServingInputError(f"future.{name} is not a feature of this model "
                                            f"({', '.join(self.features)}).")
                known[:, self.features.index(name)] = _column({name: values}, name, self.horizon)[: self.horizon]
            notes = ()
        scaled = self.scaler.transform(matrix)
        ahead = self.scaler.transform(np.concatenate([np.zeros((self.horizon, 1)), known], axis=1))[:, 1:]
        inputs = (torch.tensor(scaled[None], dtype=torch.float32), torch.tensor(ahead[None], dtype=torch.float32),
                  tuple(str(d) for d in dates))
        naive = [float(matrix[self.lookback - lag, 0]) if lag <= self.lookback else float(matrix[-1, 0])
                 for lag in self._lags]
        return Prepared(inputs, features=matrix, naive=naive, notes=tuple(notes))

    def __call__(self, inputs: tuple) -> list[float]:
        x, ahead, _dates = inputs
        with torch.no_grad():
            scaled = self.model(x, ahead)[0].double().numpy()
        sales = [max(0.0, float(self.scaler.inverse_target(np.float64(v)))) for v in scaled]
        return sales

    def answer(self, output: list[float], prepared: Prepared) -> dict:
        return {"forecast": {"dates": list(prepared.inputs[2]), "sales": output}}
