"""A deterministic built-in generator of daily pharmacy-like sales, for demos and tests."""

from __future__ import annotations

import numpy as np

from .sales import SalesData

__all__ = ["generate_sales", "generate_sales_with_mean", "holiday_flags"]

# (month, day) of the fixed holidays: most stores sell little on these days.
_HOLIDAYS = ((1, 1), (5, 1), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))
_HOLIDAY_FACTOR = 0.3
_PROMOTION_RATE = 0.02  # chance that a promotion starts on a given day, per store × product
_STOCKOUTS_PER_SERIES = 2


def generate_sales(
    stores: int = 3, products: int = 4, days: int = 730, seed: int = 0, start: str = "2023-01-01"
) -> SalesData:
    """Daily unit sales for ``stores`` × ``products`` over ``days`` days (see ``generate_sales_with_mean``)."""
    return generate_sales_with_mean(stores, products, days, seed, start)[0]


def generate_sales_with_mean(
    stores: int = 3, products: int = 4, days: int = 730, seed: int = 0, start: str = "2023-01-01"
) -> tuple[SalesData, np.ndarray]:
    """Daily unit sales for ``stores`` × ``products`` over ``days`` days starting at ``start``.

    Each series is Poisson noise around level × trend × weekly × yearly × promotion × holiday, with a few
    stock-out spells of zero sales. Guarantees: the same arguments give the same data (deterministic);
    sales are non-negative integers; the ``promotion`` and ``holiday`` features are 0/1 flags.
    Store ids are ``S001``…, product ids ``P001``….

    Also returns the generator's own mean ``(days, stores, products)`` (0 in stock-outs): the noise
    floor, the forecast no model can beat on average (``bench/bench_trainers.py`` quotes it).
    """
    if min(stores, products, days) < 1:
        raise ValueError("stores, products and days must all be at least 1.")
    rng = np.random.default_rng(seed)
    dates = np.datetime64(start, "D") + np.arange(days)
    t = np.arange(days, dtype=np.float64)
    shape = (days, stores, products)

    level = rng.lognormal(mean=3.0, sigma=0.5, size=(1, stores, products))
    slope = rng.normal(0.0, 0.25, size=(1, stores, products)) / 365.0
    trend = np.clip(1.0 + slope * t[:, None, None], 0.2, None)
    dow = (dates.astype("datetime64[D]").view("int64") + 3) % 7  # 0 = Monday
    weekly_shape = 1.0 + rng.uniform(0.1, 0.35, size=(1, 1, products)) * np.cos(2 * np.pi * (dow - 1) / 7)[
        :, None, None
    ]
    weekly = np.where((dow == 6)[:, None, None], 0.5, weekly_shape)  # Sundays are quiet
    phase = rng.uniform(0, 2 * np.pi, size=(1, 1, products))
    yearly = 1.0 + rng.uniform(0.1, 0.4, size=(1, 1, products)) * np.sin(2 * np.pi * t[:, None, None] / 365.25 + phase)

    promotion = _promotions(rng, shape)
    lift = 1.0 + promotion * rng.uniform(0.3, 0.8, size=(1, stores, products))
    holiday = np.broadcast_to(holiday_flags(dates)[:, None, None], shape).astype(np.float64)
    mean = level * trend * weekly * yearly * lift * np.where(holiday > 0, _HOLIDAY_FACTOR, 1.0)
    sales = rng.poisson(mean).astype(np.float64)
    stockouts = _stockouts(rng, shape)
    sales[stockouts] = 0.0

    return SalesData(
        dates=dates,
        store_ids=tuple(f"S{i + 1:03d}" for i in range(stores)),
        product_ids=tuple(f"P{i + 1:03d}" for i in range(products)),
        sales=sales,
        features={"holiday": np.ascontiguousarray(holiday), "promotion": promotion},
        source={"kind": "builtin", "stores": stores, "products": products, "days": days, "seed": seed,
                "start": start},
    ), np.where(stockouts, 0.0, mean)


def holiday_flags(dates: np.ndarray) -> np.ndarray:
    """The built-in data's fixed holidays on ``dates`` (a calendar: known for any future day too)."""
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    flags = np.zeros(len(dates), dtype=bool)
    for m, d in _HOLIDAYS:
        flags |= (months == m) & (day == d)
    return flags


def _promotions(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    starts = rng.random(shape) < _PROMOTION_RATE
    lengths = rng.integers(3, 8, size=shape)
    promo = np.zeros(shape)
    for t, s, p in zip(*np.nonzero(starts), strict=True):
        promo[t : t + lengths[t, s, p], s, p] = 1.0
    return promo


def _stockouts(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    days, stores, products = shape
    mask = np.zeros(shape, dtype=bool)
    for s in range(stores):
        for p in range(products):
            for _ in range(_STOCKOUTS_PER_SERIES):
                length = int(rng.integers(2, 6))
                start = int(rng.integers(0, max(1, days - length)))
                mask[start : start + length, s, p] = True
    return mask
