"""``forecast``: load a committed version and forecast the days after its data, in sales units."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import Scaler, SeriesSpec, calendar_features, feature_matrix, generate_sales, load_sales_csv, select_series
from .errors import TrainerInputError
from .models import build_model

__all__ = ["Forecast", "forecast", "load_version_model"]


@dataclass(frozen=True)
class Forecast:
    """``dates[i]`` → ``sales[i]`` (non-negative floats), for the days after the data's last date."""

    dates: tuple[str, ...]
    sales: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"dates": list(self.dates), "sales": list(self.sales)}


def load_version_model(version_path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The version's model (weights from model.pth, ``weights_only``), in eval mode, and its metadata."""
    from exporter.archive import load_model

    if not Path(version_path).is_dir():
        raise TrainerInputError(f"{version_path} is not a version directory; see `curvewatch versions list`.")
    state_dict, metadata = load_model(version_path)
    model = build_model(metadata["model_type"], metadata["n_features"], metadata["lookback"], metadata["horizon"],
                        **metadata.get("model_params", {}))
    model.load_state_dict(state_dict)
    return model.eval(), metadata


def forecast(version_path: str | Path, days: int = 14, data_csv: str | Path | None = None) -> Forecast:
    """Forecast ``days`` days after the end of the version's data (or of ``data_csv``).

    Beyond the model's horizon the forecast rolls forward on its own predictions, with the optional
    features (promotion, holiday, CSV extras) set to zero and the calendar features computed.
    """
    if days < 1:
        raise TrainerInputError(f"days must be at least 1, got {days}.")
    model, meta = load_version_model(version_path)
    source = meta["data_source"]
    if data_csv is not None or source.get("kind") == "csv":
        data = load_sales_csv(data_csv or source["path"])
    else:
        data = generate_sales(**{k: source[k] for k in ("stores", "products", "days", "seed", "start")})
    series = select_series(data, SeriesSpec(**meta["series"]))
    scaler = Scaler.from_dict(meta["scaler"])
    matrix, columns = feature_matrix(series)
    if tuple(columns) != scaler.columns:
        raise TrainerInputError(f"The data's columns {columns} differ from the model's {scaler.columns}.")
    lookback = meta["lookback"]
    if len(matrix) < lookback:
        raise TrainerInputError(f"The data has {len(matrix)} days; the model needs the last {lookback}.")
    rows = list(scaler.transform(matrix[-lookback:]))
    last = series.dates[-1]
    future = last + np.arange(1, days + 1)
    calendar = calendar_features(future)
    n_exog = len(columns) - 1 - calendar.shape[1]
    predicted: list[float] = []
    with torch.no_grad():
        while len(predicted) < days:
            x = torch.tensor(np.asarray(rows[-lookback:])[None], dtype=torch.float32)
            step = model(x)[0].double().numpy()[: days - len(predicted)]
            for value in step:
                i = len(predicted)
                raw = np.concatenate([[0.0], np.zeros(n_exog), calendar[i]])
                row = scaler.transform(raw[None])[0]
                row[0] = value
                rows.append(row)
                predicted.append(max(0.0, float(scaler.inverse_target(value))))
    return Forecast(dates=tuple(str(d) for d in future), sales=tuple(predicted))
