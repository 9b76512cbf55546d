"""Load real sales from a CSV file: ``date, store_id, product_id, sales`` plus optional numeric features."""

from __future__ import annotations

import csv
import hashlib
import io
import math
from pathlib import Path

import numpy as np

from .._constants import CSV_REQUIRED_COLUMNS
from ..errors import SalesDataError
from .sales import SalesData

__all__ = ["load_future_csv", "load_sales_csv"]


def load_future_csv(path: str | Path) -> tuple[SalesData, np.ndarray]:
    """Read the known features of days to forecast: ``date, store_id, product_id`` plus feature columns,
    the layout of a sales CSV without ``sales`` (a ``sales`` column, if any, is ignored).

    Returns the dense grid (sales all 0) and a boolean ``(T, S, P)`` mask of the cells that had a row,
    so ``predict`` can refuse a file that lacks a row it needs. Errors are those of ``load_sales_csv``.
    """
    return _load(Path(path), with_sales=False)


def load_sales_csv(path: str | Path) -> SalesData:
    """Read a sales CSV into a dense ``SalesData`` over every day from the first date to the last.

    Dates are ISO ``YYYY-MM-DD``. A (date, store, product) without a row counts as zero sales and zero
    features. Errors name the file, the line and what to fix: missing columns, a bad date, a negative or
    non-numeric sales value, a non-numeric feature, a duplicated (date, store_id, product_id), no rows.
    ``source`` records the file's absolute path and SHA-256, so ``predict`` can find it and check it later.
    """
    return _load(Path(path), with_sales=True)[0]


def _load(path: Path, with_sales: bool) -> tuple[SalesData, np.ndarray]:
    required = CSV_REQUIRED_COLUMNS if with_sales else tuple(c for c in CSV_REQUIRED_COLUMNS if c != "sales")
    if not path.is_file():
        raise SalesDataError(f"Sales file {path} does not exist; pass the path of a CSV file.")
    raw = path.read_bytes()  # parsed and digested from the same bytes
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SalesDataError(f"{path} is not UTF-8 text ({exc}); save the CSV as UTF-8.") from None
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in required if c not in columns]
        if missing:
            raise SalesDataError(
                f"{path}: missing column(s) {', '.join(missing)}; the header must contain "
                f"{', '.join(required)} (found: {', '.join(columns) or 'nothing'})."
            )
        reader.fieldnames = columns
        feature_names = [c for c in columns if c not in CSV_REQUIRED_COLUMNS]
        rows = [_parse_row(path, line, row, feature_names, with_sales) for line, row in enumerate(reader, start=2)]
    if not rows:
        raise SalesDataError(f"{path}: no data rows; add at least one line after the header.")
    return _to_grid(path, rows, feature_names, hashlib.sha256(raw).hexdigest())


def _parse_row(path: Path, line: int, row: dict, feature_names: list[str], with_sales: bool = True) -> tuple:
    where = f"{path}, line {line}"
    try:
        date = np.datetime64(row["date"].strip(), "D")
    except (ValueError, AttributeError):
        raise SalesDataError(f"{where}: bad date {row['date']!r}; write dates as YYYY-MM-DD.") from None
    sales = _number(where, "sales", row["sales"]) if with_sales else 0.0
    if sales < 0:
        raise SalesDataError(f"{where}: negative sales {row['sales']!r}; sales must be 0 or more.")
    features = tuple(_number(where, name, row[name]) for name in feature_names)
    store, product = (row["store_id"] or "").strip(), (row["product_id"] or "").strip()
    if not store or not product:
        raise SalesDataError(f"{where}: empty store_id or product_id; every row needs both.")
    return date, store, product, sales, features


def _number(where: str, column: str, text: str | None) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise SalesDataError(f"{where}: {column} {text!r} is not a number; write a plain decimal number.")
    return value


def _to_grid(path: Path, rows: list[tuple], feature_names: list[str], digest: str) -> tuple[SalesData, np.ndarray]:
    dates = np.array([r[0] for r in rows])
    first, last = dates.min(), dates.max()
    store_ids = tuple(sorted({r[1] for r in rows}))
    product_ids = tuple(sorted({r[2] for r in rows}))
    shape = (int((last - first).astype(int)) + 1, len(store_ids), len(product_ids))
    sales = np.zeros(shape)
    features = {name: np.zeros(shape) for name in feature_names}
    seen = np.zeros(shape, dtype=bool)
    s_index = {s: i for i, s in enumerate(store_ids)}
    p_index = {p: i for i, p in enumerate(product_ids)}
    for date, store, product, value, feats in rows:
        key = (int((date - first).astype(int)), s_index[store], p_index[product])
        if seen[key]:
            raise SalesDataError(
                f"{path}: more than one row for date {date}, store {store}, product {product}; keep one."
            )
        seen[key] = True
        sales[key] = value
        for name, v in zip(feature_names, feats, strict=True):
            features[name][key] = v
    return SalesData(
        dates=first + np.arange(shape[0]),
        store_ids=store_ids,
        product_ids=product_ids,
        sales=sales,
        features=features,
        source={"kind": "csv", "path": str(path.resolve()), "sha256": digest},
    ), seen
