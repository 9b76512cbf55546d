"""The pending store: bounded under a flood of unmatched predictions, expiring by TTL, counting both."""

from __future__ import annotations

import tracemalloc

import pytest
from curvewatch.serving import ModelMonitor, PendingStore


def test_pending_store_never_exceeds_its_limit() -> None:
    limit = 10_000
    monitor = ModelMonitor(lambda x: x, identifier="product_P001_all_tcn", model_version=1, pending_limit=limit,
                           clock=lambda: 0.0)
    for i in range(950_000):  # 10^6 predictions whose actuals never come ...
        monitor.predict(1.0, i)
    tracemalloc.start()  # ... the last 50,000 of them under tracemalloc: memory stays flat once the store is full
    for i in range(950_000, 1_000_000):
        monitor.predict(1.0, i)
        if i == 975_000:
            half, _ = tracemalloc.get_traced_memory()  # the traced entries alive: at most `limit` of them
    now, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(monitor.pending) == limit
    assert monitor.pending.evicted == 1_000_000 - limit
    assert now < 1.2 * half, f"memory kept growing after the store was full ({half} -> {now} bytes)"
    assert monitor.snapshot()["evicted"] == 1_000_000 - limit
    assert monitor.record_actuals([0, 999_999], [1.0, 1.0]) == (1, 1)  # the oldest was evicted, the newest joins


def test_expired_predictions_are_dropped_and_counted() -> None:
    store = PendingStore(limit=100, ttl_s=10.0)
    store.add("old", 1.0, now=0.0)
    store.add("new", 2.0, now=8.0)
    assert store.expire(now=12.0) == 1 and store.expired == 1
    assert store.take("old") is None
    assert store.take("new") == (8.0, 2.0, None)


def test_a_repeated_id_replaces_the_waiting_prediction() -> None:
    store = PendingStore(limit=10, ttl_s=10.0)
    store.add("a", 1.0, now=0.0)
    store.add("a", 5.0, now=1.0)
    assert len(store) == 1 and store.take("a") == (1.0, 5.0, None)


@pytest.mark.parametrize(("limit", "ttl", "message"), [(0, 1.0, "at least 1 prediction"), (1, 0.0, "above 0 seconds")])
def test_bad_limits_are_refused_with_a_sentence(limit: int, ttl: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PendingStore(limit, ttl)
