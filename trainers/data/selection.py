"""Pick and aggregate one sales series by mode and scope, exactly as the archive layout names them.

========  =================  ==============================================================
mode      scope              series
========  =================  ==============================================================
product   ``all``            product P, summed over all stores
product   store id S         product P in store S
store     ``all``            store S, summed over all products
store     product id P       product P in store S
global    ``all``            every store × product, aggregated by ``sum`` or ``mean``
global    ``stores`` + S     every product of store S, aggregated
global    ``products`` + P   product P in every store, aggregated
global    ``custom`` + S, P  product P in store S (``mean`` and ``sum`` of one series agree)
========  =================  ==============================================================

Feature columns (promotion, holiday, CSV extras) are averaged over the selected series, so a 0/1 flag
becomes the share of selected series where it is set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._constants import AGGREGATIONS, GLOBAL_SCOPES, MODES, SCOPE_ALL
from ..errors import TrainerInputError
from .sales import SalesData

__all__ = ["Series", "SeriesSpec", "select_series", "selected_cells"]


@dataclass(frozen=True)
class SeriesSpec:
    """Which series to train on: ``SeriesSpec("product", product="P001", scope="all")``.

    ``scope`` is ``"all"`` or an id (product and store modes), or one of ``GLOBAL_SCOPES`` in global mode,
    where ``store``/``product`` give the ids that the scope needs. ``aggregation`` is used in global mode.
    """

    mode: str
    product: str | None = None
    store: str | None = None
    scope: str = SCOPE_ALL
    aggregation: str = "sum"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise TrainerInputError(f"Unknown mode {self.mode!r}; use one of {', '.join(MODES)}.")
        if self.mode == "product" and not self.product:
            raise TrainerInputError("Product mode needs a product id (--product P001).")
        if self.mode == "store" and not self.store:
            raise TrainerInputError("Store mode needs a store id (--store S001).")
        if self.mode == "global":
            if self.scope not in GLOBAL_SCOPES:
                raise TrainerInputError(
                    f"Global scope {self.scope!r} is unknown; use one of {', '.join(GLOBAL_SCOPES)}."
                )
            if self.scope in ("stores", "custom") and not self.store:
                raise TrainerInputError(f"Global scope {self.scope!r} needs a store id (--store S001).")
            if self.scope in ("products", "custom") and not self.product:
                raise TrainerInputError(f"Global scope {self.scope!r} needs a product id (--product P001).")
            if self.aggregation not in AGGREGATIONS:
                raise TrainerInputError(
                    f"Aggregation {self.aggregation!r} is unknown; use one of {', '.join(AGGREGATIONS)}."
                )

    def to_dict(self) -> dict:
        return {"mode": self.mode, "product": self.product, "store": self.store, "scope": self.scope,
                "aggregation": self.aggregation}

    def key_fields(self) -> dict:
        """Keyword arguments for the archive's ``ModelKey.product/store/global_`` (without ``model_type``)."""
        if self.mode == "product":
            return {"product_id": self.product, "scope": self.scope}
        if self.mode == "store":
            return {"store_id": self.store, "scope": self.scope}
        return {"scope": self.scope, "aggregation": self.aggregation, "store_id": self.store,
                "product_id": self.product}


@dataclass(frozen=True)
class Series:
    """One daily series: ``sales[t]`` and exogenous ``features[t, k]`` named ``feature_names[k]``."""

    dates: np.ndarray
    sales: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]


def select_series(data: SalesData, spec: SeriesSpec) -> Series:
    """The series that ``spec`` names, from ``data`` (see the module table); unknown ids raise clearly."""
    stores, products, how = selected_cells(data, spec)
    sales = data.sales[:, stores][:, :, products].reshape(len(data.dates), -1)
    sales = sales.sum(axis=1) if how == "sum" else sales.mean(axis=1)
    names = data.feature_names
    features = np.stack(
        [data.features[n][:, stores][:, :, products].reshape(len(data.dates), -1).mean(axis=1) for n in names],
        axis=1,
    ) if names else np.zeros((len(data.dates), 0))
    return Series(dates=data.dates, sales=sales, features=features, feature_names=names)


def selected_cells(data: SalesData, spec: SeriesSpec) -> tuple[list[int], list[int], str]:
    """The store indices, product indices and aggregation (``sum``/``mean``) that ``spec`` selects."""
    all_stores, all_products = list(range(len(data.store_ids))), list(range(len(data.product_ids)))
    if spec.mode == "product":
        p = [data.product_index(spec.product)]
        return (all_stores if spec.scope == SCOPE_ALL else [data.store_index(spec.scope)]), p, "sum"
    if spec.mode == "store":
        s = [data.store_index(spec.store)]
        return s, (all_products if spec.scope == SCOPE_ALL else [data.product_index(spec.scope)]), "sum"
    stores = [data.store_index(spec.store)] if spec.scope in ("stores", "custom") else all_stores
    products = [data.product_index(spec.product)] if spec.scope in ("products", "custom") else all_products
    return stores, products, spec.aggregation
