"""Predictions waiting for their actuals: bounded by a size limit and a TTL, never unbounded memory.

    store = PendingStore(limit=100_000, ttl_s=3 * 86400)
    store.add("order-17", 12.5, now)          # the prediction (and its naive baseline, if any)
    store.take("order-17")                    # -> (time, predicted, naive), or None if unknown/expired

Guarantees (tests named after them in ``tests/test_serving_pending.py``):
- pending_store_never_exceeds_its_limit: past ``limit`` entries the oldest is evicted and counted in
  ``evicted``; with 10^6 unmatched predictions it holds ``limit``.
- expired_predictions_are_dropped_and_counted: an entry older than ``ttl_s`` is removed at the next sweep
  (every ``EXPIRE_EVERY`` adds, every join and every scrape) and counted in ``expired``; it no longer joins.
- a repeated id replaces the waiting prediction (the latest answer is the one scored).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from ._names import EXPIRE_EVERY

__all__ = ["PendingStore"]


class PendingStore:
    """id -> ``(time, predicted, naive)`` in arrival order; the oldest is evicted at ``limit``, expired at ``ttl_s``."""

    def __init__(self, limit: int, ttl_s: float) -> None:
        if limit < 1:
            raise ValueError(f"The pending store limit must be at least 1 prediction, got {limit}.")
        if not ttl_s > 0:
            raise ValueError(f"The pending store TTL must be above 0 seconds, got {ttl_s}.")
        self.limit, self.ttl_s = int(limit), float(ttl_s)
        self._items: OrderedDict[Any, tuple[float, Any, Any]] = OrderedDict()
        self.evicted = 0
        self.expired = 0
        self._adds = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, key: Any, predicted: Any, now: float, naive: Any = None) -> None:
        """Keep ``predicted`` under ``key`` until its actual arrives (or it is evicted or expires)."""
        items = self._items
        items[key] = (now, predicted, naive)
        if len(items) > self.limit:
            items.popitem(last=False)
            self.evicted += 1
        self._adds += 1
        if self._adds >= EXPIRE_EVERY:
            self._adds = 0
            self.expire(now)

    def take(self, key: Any) -> tuple[float, Any, Any] | None:
        """Remove and return the entry of ``key`` (``None``: never stored, already joined, evicted or expired)."""
        return self._items.pop(key, None)

    def expire(self, now: float) -> int:
        """Drop entries older than the TTL (oldest first); return how many."""
        items, cutoff, dropped = self._items, now - self.ttl_s, 0
        while items:
            key = next(iter(items))
            if items[key][0] >= cutoff:
                break
            del items[key]
            dropped += 1
        self.expired += dropped
        return dropped
