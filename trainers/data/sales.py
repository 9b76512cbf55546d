"""``SalesData``: daily sales of S stores × P products on a dense, consecutive calendar."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SalesDataError

__all__ = ["SalesData"]


@dataclass(frozen=True)
class SalesData:
    """Daily sales on a dense grid: ``sales[t, s, p]`` is product ``p``'s sales in store ``s`` on ``dates[t]``.

    ``features`` maps a feature name (``promotion``, ``holiday``, any extra CSV column) to an array of the
    same ``(T, S, P)`` shape. ``source`` is a plain dict saying where the data came from (stored in
    metadata.json so ``curvewatch predict`` can rebuild the same series).
    """

    dates: np.ndarray
    store_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    sales: np.ndarray
    features: dict[str, np.ndarray] = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.store_ids), len(self.product_ids))
        if self.sales.shape != shape:
            raise SalesDataError(f"Sales array has shape {self.sales.shape}, expected {shape}.")
        for name, values in self.features.items():
            if values.shape != shape:
                raise SalesDataError(f"Feature {name!r} has shape {values.shape}, expected {shape}.")
        if len(self.dates) > 1 and np.any(np.diff(self.dates).astype(int) != 1):
            raise SalesDataError("Dates must be consecutive days in increasing order.")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.features))

    def store_index(self, store_id: str) -> int:
        """Index of ``store_id``; a clear error listing the stores if it is not in the data."""
        return _index_of(self.store_ids, store_id, "Store")

    def product_index(self, product_id: str) -> int:
        """Index of ``product_id``; a clear error listing the products if it is not in the data."""
        return _index_of(self.product_ids, product_id, "Product")


def _index_of(ids: tuple[str, ...], wanted: str, kind: str) -> int:
    try:
        return ids.index(wanted)
    except ValueError:
        shown = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
        raise SalesDataError(f"{kind} {wanted!r} is not in the data; available: {shown}.") from None
