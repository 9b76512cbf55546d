"""``ModelMonitor``: one served version, timed, counted and scored against the actuals that arrive later.

    monitor = ModelMonitor.from_version("saved_models/product/P001_all/tcn/v3", model, role="primary")
    y = monitor.predict(x, "order-17", features=x_rows, naive=last_week)   # model(x), timed and kept
    monitor.record_actuals(["order-17"], [12.0])                          # joined: live error updated
    ServingCollector([monitor])                                           # its series, read at scrape time

``model`` is any callable ``model(inputs) -> output`` (a float, a sequence of floats, or a class label).
Per prediction the monitor only times the call, counts it into the latency histogram and stores the
output under its id (``bench/bench_serving.py`` measures that overhead); errors, the live error window,
the degradation ratio and the drift scores are computed at scrape time.

Guarantees (tests named after them in ``tests/test_serving_monitor.py``):
- a_failing_model_is_counted_and_re_raised: the exception reaches the caller, ``errors`` counts it.
- version_without_profile_serves_with_drift_unavailable (``tests/test_serving_drift.py``): ``drift_reason`` is a
  sentence, no exception, and the service answers.
- degradation_ratio_is_live_over_validation_error: ``live_mae / validation_mae`` (classifiers: the live
  error rate over the validation one).
"""

from __future__ import annotations

import math
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ._names import (
    DEFAULT_DRIFT_ROWS,
    DEFAULT_PENDING_LIMIT,
    DEFAULT_PENDING_TTL_S,
    DEFAULT_WINDOW,
    DEFAULT_WINDOW_S,
    LATENCY_BUCKETS,
    ROLES,
)
from .drift import DriftScore, DriftWindow
from .errors import ServingError
from .live_error import LiveErrorWindow
from .pending import PendingStore
from .profile import ReferenceProfile, read_profile

__all__ = ["ModelMonitor", "validation_errors"]


def validation_errors(metadata: Mapping[str, Any]) -> dict[str, float]:
    """The archived validation error of a version: ``metadata["validation"]`` (the trainers' scores), else
    the ``val_<metric>`` entries of its metrics summary; finite numbers only."""
    scores = metadata.get("validation")
    if not isinstance(scores, Mapping):
        summary = (metadata.get("archive") or {}).get("metrics_summary") or {}
        scores = {k[4:]: v for k, v in summary.items() if k.startswith("val_")}
    return {k: float(v) for k, v in scores.items()
            if k in ("mae", "rmse", "mape", "mase", "accuracy") and isinstance(v, (int, float)) and math.isfinite(v)}


class ModelMonitor:
    """Latency, counts, pending predictions, live error and drift of one version in one role."""

    def __init__(self, model: Callable[[Any], Any], *, identifier: str, model_version: int | str,
                 role: str = "primary", validation: Mapping[str, float] | None = None,
                 profile: ReferenceProfile | None = None, drift_reason: str | None = None,
                 task: str = "regression", pending_limit: int = DEFAULT_PENDING_LIMIT,
                 pending_ttl_s: float = DEFAULT_PENDING_TTL_S, window: int = DEFAULT_WINDOW,
                 window_s: float = DEFAULT_WINDOW_S, drift_rows: int = DEFAULT_DRIFT_ROWS,
                 clock: Callable[[], float] = time.time) -> None:
        if role not in ROLES:
            raise ValueError(f"`role` can be {', '.join(ROLES)}, got {role!r}.")
        self.model, self.identifier, self.model_version, self.role = model, identifier, str(model_version), role
        self.labels = (identifier, self.model_version, role)
        self.validation = dict(validation or {})
        self.task, self.clock = task, clock
        self.pending = PendingStore(pending_limit, pending_ttl_s)
        self.window = LiveErrorWindow(window, window_s, task)
        self.drift = DriftWindow(profile, drift_rows) if profile is not None else None
        self.drift_reason = drift_reason if profile is None else None
        if profile is None and self.drift_reason is None:
            self.drift_reason = f"{identifier} v{self.model_version} has no reference profile; drift is unavailable."
        self.bounds = LATENCY_BUCKETS
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0
        self.predictions = 0
        self.errors = 0
        self.matched = 0
        self.unmatched = 0
        self.last_actual_time: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_version(cls, version_path: str | os.PathLike[str], model: Callable[[Any], Any],
                     metadata: Mapping[str, Any] | None = None, **options: Any) -> ModelMonitor:
        """A monitor of a committed version: identifier, version, validation error and profile from its files
        (``metadata``: its metadata.json when already loaded and verified, e.g. by ``load_model``)."""
        path = Path(version_path)
        if metadata is None:
            from curvewatch.archive import ArchiveError, load_model

            try:
                metadata = load_model(path)[1]
            except ArchiveError as exc:
                raise ServingError(str(exc)) from None
        info = metadata.get("archive") or {}
        identifier, version = info.get("identifier"), info.get("version")
        if not identifier or version is None:
            raise ServingError(f"{path / 'metadata.json'} names no archive identifier and version; serve a "
                               "version committed by ModelArchive.commit.")
        profile = read_profile(path)
        reason = None if profile is not None else (
            f"{identifier} v{version} was committed without a reference profile (before curvewatch stored one), so "
            "drift is unavailable for it; commit a new version to compare its inputs with its training data.")
        return cls(model, identifier=identifier, model_version=version, validation=validation_errors(metadata),
                   profile=profile, drift_reason=reason, **options)

    # -- per prediction ------------------------------------------------------------------------------
    def predict(self, inputs: Any, id: Any = None, *, features: Any = None, naive: Any = None) -> Any:  # noqa: A002
        """``model(inputs)``, timed and counted; with ``id`` the output waits for its actual; ``features``
        (input rows) feed the drift window; ``naive`` is the seasonal-naive forecast scored beside it."""
        start = time.perf_counter()
        try:
            output = self.model(inputs)
        except BaseException:
            with self._lock:
                self.errors += 1
            raise
        elapsed = time.perf_counter() - start
        with self._lock:
            self.buckets[bisect_left(self.bounds, elapsed)] += 1
            self.latency_sum += elapsed
            self.predictions += 1
            if id is not None:
                self.pending.add(id, output, self.clock(), naive)
            if features is not None and self.drift is not None:
                self.drift.add(features)
        return output

    def record_actuals(self, ids: Iterable[Any], values: Iterable[Any]) -> tuple[int, int]:
        """Join actuals with the waiting predictions of the same ids; ``(matched, unmatched)``."""
        matched = unmatched = 0
        with self._lock:
            now = self.clock()
            self.pending.expire(now)
            take, add = self.pending.take, self.window.add
            for key, actual in zip(ids, values):
                entry = take(key)
                if entry is None:
                    unmatched += 1
                else:
                    add(now, entry[1], actual, entry[2])
                    matched += 1
            self.matched += matched
            self.unmatched += unmatched
            if matched:
                self.last_actual_time = now
        return matched, unmatched

    # -- read at scrape time -------------------------------------------------------------------------
    def live_errors(self) -> tuple[dict[str, float], int]:
        """``({metric: live value}, matched predictions in the window)``."""
        with self._lock:
            return self.window.metrics(self.clock())

    def degradation_ratio(self, live: Mapping[str, float]) -> float:
        """live MAE / validation MAE (classifiers: live error rate / validation error rate); NaN if unknown."""
        if self.task == "classification":
            val, cur = 1 - self.validation.get("accuracy", math.nan), 1 - live.get("accuracy", math.nan)
        else:
            val, cur = self.validation.get("mae", math.nan), live.get("mae", math.nan)
        return cur / val if val > 0 else math.nan

    def drift_scores(self) -> dict[str, DriftScore]:
        """PSI/KS per profiled feature over the drift window (empty without a profile)."""
        if self.drift is None:
            return {}
        with self._lock:
            return self.drift.scores()

    def snapshot(self) -> dict[str, Any]:
        """Every counter at once, consistent (what the collector exposes), after an expiry sweep."""
        with self._lock:
            self.pending.expire(self.clock())
            return {"buckets": list(self.buckets), "latency_sum": self.latency_sum, "predictions": self.predictions,
                    "errors": self.errors, "matched": self.matched, "unmatched": self.unmatched,
                    "pending": len(self.pending), "evicted": self.pending.evicted, "expired": self.pending.expired,
                    "last_actual_time": self.last_actual_time}
