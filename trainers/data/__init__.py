"""Sales data for the trainers: a built-in generator, a CSV loader, series selection, windows, scaler."""

from .csv_io import load_sales_csv
from .sales import SalesData
from .scaler import Scaler
from .selection import Series, SeriesSpec, select_series
from .synthetic import generate_sales, generate_sales_with_mean
from .windows import WindowedData, calendar_features, feature_matrix, make_windows

__all__ = [
    "SalesData",
    "Scaler",
    "Series",
    "SeriesSpec",
    "WindowedData",
    "calendar_features",
    "feature_matrix",
    "generate_sales",
    "generate_sales_with_mean",
    "load_sales_csv",
    "make_windows",
    "select_series",
]
