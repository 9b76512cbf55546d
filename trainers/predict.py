"""``forecast``: load a committed version and forecast the days after its data, in sales units.

Trust chain: the version's ``model.pth`` and ``metadata.json`` are checked against its manifest before
``torch.load`` (``verify=False``, ``--no-verify``, skips that), and every way a version's files can be
wrong (tampered, truncated, not weights, metadata missing a field or of the wrong shape) is a
``TrainerInputError`` sentence, never another exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import (
    SalesData,
    Scaler,
    SeriesSpec,
    feature_matrix,
    generate_sales,
    load_sales_csv,
    select_series,
)
from .errors import TrainerInputError
from .future import future_features
from .models import build_model

__all__ = ["MAX_FORECAST_DAYS", "Forecast", "forecast", "load_version_model", "training_data"]

MAX_FORECAST_DAYS = 3660  # ten years of days: past this a rolled-forward forecast means nothing


@dataclass(frozen=True)
class Forecast:
    """``dates[i]`` → ``sales[i]`` (non-negative floats), for the days after the data's last date."""

    dates: tuple[str, ...]
    sales: tuple[float, ...]
    notes: tuple[str, ...] = ()  # what the forecast had to assume (e.g. unknown promotions)

    def to_dict(self) -> dict:
        return {"dates": list(self.dates), "sales": list(self.sales), "notes": list(self.notes)}


def _unusable(version_path: str | Path, exc: BaseException) -> TrainerInputError:
    what = f"field {exc}" if isinstance(exc, KeyError) else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return TrainerInputError(
        f"The version at {version_path} cannot be used ({what[:200]}); run `curvewatch versions verify` on it, "
        "restore it, or train again."
    )


def load_version_model(version_path: str | Path, *, verify: bool = True) -> tuple[torch.nn.Module, dict]:
    """The version's model (weights from model.pth, ``weights_only``), in eval mode, and its metadata,
    once both match the version's manifest (unless ``verify=False``)."""
    from curvewatch.archive import ArchiveError, load_model

    if not Path(version_path).is_dir():
        raise TrainerInputError(f"{version_path} is not a version directory; see `curvewatch versions list`.")
    try:
        state_dict, metadata = load_model(version_path, verify=verify)
    except ArchiveError as exc:
        raise TrainerInputError(str(exc)) from None
    try:
        model = build_model(metadata["model_type"], metadata["n_features"], metadata["lookback"],
                            metadata["horizon"], **metadata.get("model_params", {}))
        model.load_state_dict(state_dict)
    except TrainerInputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise _unusable(version_path, exc) from None
    return model.eval(), metadata


def training_data(source: dict) -> SalesData:
    """The data a version was trained on, from its ``metadata.json`` ``data_source``.

    A CSV is read from the absolute path stored at training time and must still have the stored
    SHA-256; if it is gone or changed, the error says to pass ``--data`` (``data_csv``).
    """
    if source.get("kind") != "csv":
        return generate_sales(**{k: source[k] for k in ("stores", "products", "days", "seed", "start")})
    path = source["path"]
    if not Path(path).is_file():
        raise TrainerInputError(f"This version was trained on {path}, which no longer exists; pass --data "
                                "with the sales CSV to forecast from.")
    data = load_sales_csv(path)
    expected = source.get("sha256")
    if expected and data.source["sha256"] != expected:
        raise TrainerInputError(
            f"{path} has changed since this version was trained (sha256 {data.source['sha256'][:12]}..., "
            f"trained on {expected[:12]}...); pass --data {path} to forecast from its current content, "
            "or restore the file."
        )
    return data


def forecast(
    version_path: str | Path,
    days: int = 14,
    data_csv: str | Path | None = None,
    future_csv: str | Path | None = None,
    *,
    verify: bool = True,
) -> Forecast:
    """Forecast ``days`` days after the end of the version's data (or of ``data_csv``).

    Without ``data_csv``, a version trained on a CSV re-reads it (see ``training_data``): a moved or
    changed file is an error that says to pass ``--data``.

    The model gets the forecast days' known features (``trainers/future.py``): the calendar, and the
    flags from ``future_csv`` (refused with a sentence if it lacks a forecast day); without it, the
    built-in data's holidays and 0 for the rest, said in ``Forecast.notes``. Beyond the model's horizon
    the forecast rolls forward on its own predictions.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_FORECAST_DAYS:
        raise TrainerInputError(f"days must be an integer from 1 to {MAX_FORECAST_DAYS}, got {days!r}.")
    model, meta = load_version_model(version_path, verify=verify)
    if "known_future_features" not in meta:
        raise TrainerInputError(f"{version_path} was trained before the forecasters took the forecast days' "
                                "known features; train it again to forecast with this version of curvewatch.")
    try:
        return _forecast(model, meta, days, data_csv, future_csv)
    except TrainerInputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as exc:
        raise _unusable(version_path, exc) from None


def _forecast(
    model: torch.nn.Module, meta: dict, days: int, data_csv: str | Path | None, future_csv: str | Path | None
) -> Forecast:
    data = load_sales_csv(data_csv) if data_csv is not None else training_data(meta["data_source"])
    series = select_series(data, SeriesSpec(**meta["series"]))
    scaler = Scaler.from_dict(meta["scaler"])
    matrix, columns = feature_matrix(series)
    if tuple(columns) != scaler.columns:
        raise TrainerInputError(f"The data's columns {columns} differ from the model's {scaler.columns}.")
    lookback = meta["lookback"]
    if len(matrix) < lookback:
        raise TrainerInputError(f"The data has {len(matrix)} days; the model needs the last {lookback}.")
    rows = list(scaler.transform(matrix[-lookback:]))
    horizon = meta["horizon"]
    future = series.dates[-1] + np.arange(1, days + 1)
    known, notes = future_features(meta, future, future_csv)
    padding = -days % horizon  # the last horizon's days after the last one asked for: calendar only
    if padding:
        known = np.concatenate([known, future_features(meta, future[-1] + np.arange(1, padding + 1))[0]])
    steps = days + padding
    known_scaled = scaler.transform(np.concatenate([np.zeros((steps, 1)), known], axis=1))
    predicted: list[float] = []
    with torch.no_grad():
        while len(predicted) < days:
            start = len(predicted)
            x = torch.tensor(np.asarray(rows[-lookback:])[None], dtype=torch.float32)
            ahead = torch.tensor(known_scaled[None, start : start + horizon, 1:], dtype=torch.float32)
            for i, value in enumerate(model(x, ahead)[0].double().numpy()[: days - start]):
                row = known_scaled[start + i].copy()
                row[0] = value
                rows.append(row)
                predicted.append(float(scaler.inverse_target(np.float64(value))))
    return Forecast(dates=tuple(str(d) for d in future), sales=tuple(max(0.0, v) for v in predicted), notes=notes)
