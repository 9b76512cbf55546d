"""The known features of the days to forecast: calendar always, flags from a ``--future`` CSV or said unknown.

``future_features`` returns the unscaled known columns of a version's model (``metadata.json``
``known_future_features``: the feature columns of its data, then the calendar) for ``dates``, and the
notes to show the user:

- with ``future_csv`` (``date, store_id, product_id`` and the feature columns, as the sales CSV without
  ``sales``), the features come from it, averaged over the version's series like at training time; a
  file without a row for a forecast day of a selected store and product, or without a feature column,
  is refused with a sentence that says what to add;
- without it, on built-in data the holidays come from its calendar and the other flags (promotions)
  are 0, on a CSV every feature is 0; a note says which were unknown and how to pass them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._constants import CALENDAR_FEATURES
from .data import SeriesSpec, calendar_features, select_series
from .data.csv_io import load_future_csv
from .data.selection import selected_cells
from .data.synthetic import holiday_flags
from .errors import SalesDataError, TrainerInputError

__all__ = ["future_features"]


def future_features(meta: dict, dates: np.ndarray, future_csv: str | Path | None = None
                    ) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(len(dates), n_known)`` known columns of ``dates`` in the model's order, and notes for the user."""
    names = [n for n in meta["known_future_features"] if n not in CALENDAR_FEATURES]
    spec = SeriesSpec(**meta["series"])
    if future_csv is not None:
        exogenous = _from_csv(Path(future_csv), names, spec, dates)
        notes: tuple[str, ...] = ()
    else:
        exogenous, unknown = np.zeros((len(dates), len(names))), list(names)
        if meta["data_source"].get("kind") == "builtin" and "holiday" in names:
            exogenous[:, names.index("holiday")] = holiday_flags(dates)
            unknown.remove("holiday")
        notes = (f"The forecast days' {', '.join(unknown)} are unknown, so the forecast assumes none (0); pass "
                 f"--future FILE (date, store_id, product_id, {', '.join(names)}) with the planned values.",
                 ) if unknown else ()
    return np.concatenate([exogenous, calendar_features(dates)], axis=1), notes


def _from_csv(path: Path, names: list[str], spec: SeriesSpec, dates: np.ndarray) -> np.ndarray:
    try:
        data, seen = load_future_csv(path)
    except SalesDataError as exc:
        raise TrainerInputError(str(exc)) from None
    missing = [n for n in names if n not in data.features]
    if missing:
        raise TrainerInputError(f"{path} has no column {', '.join(missing)}; the model needs "
                                f"date, store_id, product_id, {', '.join(names)} for each forecast day.")
    try:
        stores, products, _ = selected_cells(data, spec)
    except SalesDataError as exc:
        raise TrainerInputError(f"{path}: {exc}") from None
    index = (dates - data.dates[0]).astype(int)
    inside = (index >= 0) & (index < len(data.dates))
    covered = np.zeros(len(dates), dtype=bool)
    covered[inside] = seen[index[inside]][:, stores][:, :, products].all(axis=(1, 2))
    if not covered.all():
        lacking = [str(d) for d in dates[~covered]]
        shown = ", ".join(lacking[:5]) + (" …" if len(lacking) > 5 else "")
        raise TrainerInputError(
            f"{path} has no row for {shown} ({len(lacking)} of the {len(dates)} forecast days, "
            f"{dates[0]} to {dates[-1]}) for every store and product of the series; add one row per day, "
            "store and product, or forecast fewer --days."
        )
    selected = select_series(data, spec)
    columns = [selected.feature_names.index(n) for n in names]
    return selected.features[index][:, columns]
