"""``ServingCollector``: every monitor's series, built at scrape time from the monitors' own counters.

    registry = CollectorRegistry()
    registry.register(ServingCollector(lambda: monitors, weights=lambda m: router.weight_of(m)))

Every series carries ``identifier``, ``model_version`` and ``role`` (the names docs/SERVING.md lists);
nothing is computed per prediction beyond what ``ModelMonitor.predict`` counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ._names import LABELS, PREFIX
from .monitor import ModelMonitor

__all__ = ["ServingCollector"]


def _gauge(name: str, doc: str, extra: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=[*LABELS, *extra])


def _counter(name: str, doc: str) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, doc, labels=list(LABELS))


class ServingCollector(Collector):
    """The serving series of ``monitors()`` (called at each scrape); ``weight(monitor)``: its traffic share."""

    def __init__(self, monitors: Callable[[], Sequence[ModelMonitor]],
                 weight: Callable[[ModelMonitor], float] | None = None) -> None:
        self.monitors, self.weight = monitors, weight

    def collect(self) -> Iterator:
        f = {
            "predictions": _counter("predictions", "Predictions answered by the version (model calls that returned)."),
            "errors": _counter("prediction_errors", "Model calls that raised."),
            "matched": _counter("actuals_matched", "Actuals joined with a waiting prediction of the version."),
            "unmatched": _counter("actuals_unmatched", "Actuals whose id had no waiting prediction (never made, "
                                                       "already joined, evicted or expired)."),
            "expired": _counter("predictions_expired", "Predictions dropped unjoined after the pending TTL."),
            "evicted": _counter("predictions_evicted",
                                "Predictions dropped unjoined because the pending store was full."),
            "pending": _gauge("pending_predictions", "Predictions waiting for their actuals."),
            "limit": _gauge("pending_limit", "Size limit of the pending store."),
            "ttl": _gauge("pending_ttl_seconds", "How long a prediction waits for its actual."),
            "last": _gauge("last_actual_timestamp_seconds", "When an actual was last joined (Unix time)."),
            "window": _gauge("window_matched", "Joined predictions in the live error window."),
            "live": _gauge("live_error", "Live error over the window (mae, rmse, mape, mase; accuracy).", ["metric"]),
            "val": _gauge("validation_error", "The archived validation error of the version.", ["metric"]),
            "ratio": _gauge("degradation_ratio", "Live MAE / validation MAE (classifiers: error rates)."),
            "psi": _gauge("feature_psi", "Population stability index of the recent inputs vs the training profile.",
                          ["feature"]),
            "ks": _gauge("feature_ks", "KS statistic of the recent inputs vs the training profile.", ["feature"]),
            "missing": _gauge("feature_missing_share", "Share of NaN/inf values among the recent inputs.", ["feature"]),
            "drift_rows": _gauge("drift_window_rows", "Input rows in the drift window."),
            "drift": _gauge("drift_available", "1 if the version has a reference profile (drift is computed), else 0."),
            "weight": _gauge("traffic_weight", "Share of requests the router sends to the version (shadows: 0)."),
        }
        latency = HistogramMetricFamily(PREFIX + "latency_seconds", "Time of the model call per prediction.",
                                        labels=list(LABELS))
        for m in self.monitors():
            snap, labels = m.snapshot(), list(m.labels)
            for key in ("predictions", "errors", "matched", "unmatched", "expired", "evicted"):
                f[key].add_metric(labels, snap[key])
            f["pending"].add_metric(labels, snap["pending"])
            f["limit"].add_metric(labels, m.pending.limit)
            f["ttl"].add_metric(labels, m.pending.ttl_s)
            if snap["last_actual_time"] is not None:
                f["last"].add_metric(labels, snap["last_actual_time"])
            live, count = m.live_errors()
            f["window"].add_metric(labels, count)
            for metric, value in live.items():
                if not math.isnan(value):
                    f["live"].add_metric([*labels, metric], value)
            for metric, value in m.validation.items():
                f["val"].add_metric([*labels, metric], value)
            ratio = m.degradation_ratio(live)
            if not math.isnan(ratio):
                f["ratio"].add_metric(labels, ratio)
            f["drift"].add_metric(labels, 0.0 if m.drift is None else 1.0)
            scores = m.drift_scores()
            for feature, score in scores.items():
                if not math.isnan(score.psi):
                    f["psi"].add_metric([*labels, feature], score.psi)
                    f["ks"].add_metric([*labels, feature], score.ks)
                    f["missing"].add_metric([*labels, feature], score.missing_share)
            if scores:
                f["drift_rows"].add_metric(labels, next(iter(scores.values())).rows)
            if self.weight is not None:
                f["weight"].add_metric(labels, self.weight(m))
            cumulative, buckets = 0, []
            for bound, count_in in zip((*m.bounds, math.inf), snap["buckets"]):
                cumulative += count_in
                buckets.append(("+Inf" if math.isinf(bound) else f"{bound:g}", cumulative))
            latency.add_metric(labels, buckets, snap["latency_sum"])
        yield latency
        yield from f.values()
