"""The monitor: counts, latency, the live error window, the degradation ratio, and the series it exposes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from curvewatch.serving import LiveErrorWindow, ModelMonitor, ServingCollector, compute_profile
from prometheus_client import CollectorRegistry

LABELS = {"identifier": "product_P001_all_tcn", "model_version": "3", "role": "canary"}


def _monitor(model=lambda x: x, **options) -> ModelMonitor:
    return ModelMonitor(model, identifier="product_P001_all_tcn", model_version=3, role="canary", **options)


def test_a_failing_model_is_counted_and_re_raised() -> None:
    def broken(_x):
        raise RuntimeError("weights are NaN")

    monitor = _monitor(broken)
    with pytest.raises(RuntimeError, match="weights are NaN"):
        monitor.predict(1.0, "a")
    assert monitor.snapshot()["errors"] == 1 and monitor.snapshot()["predictions"] == 0 and not monitor.pending


def test_live_error_window_holds_the_last_matched_predictions_within_its_time() -> None:
    window = LiveErrorWindow(size=3, seconds=100.0)
    for t, err in ((0.0, 50.0), (10.0, 1.0), (20.0, 2.0), (30.0, 3.0)):
        window.add(t, 10.0 + err, 10.0)
    live, count = window.metrics(30.0)
    assert count == 3 and live["mae"] == 2.0  # the first one (error 50) fell out of the last 3
    assert live["rmse"] == pytest.approx(math.sqrt(14 / 3)) and live["mape"] == pytest.approx(20.0)
    assert math.isnan(live["mase"])  # no naive forecast was stored
    live, count = window.metrics(125.0)
    assert count == 1 and live["mae"] == 3.0  # only the one joined within 100 s of now


def test_live_metrics_match_the_trainers_definitions() -> None:
    from curvewatch.trainers.metrics import RegressionSums

    rng = np.random.default_rng(0)
    predicted, actual = rng.uniform(0, 20, size=(50, 7)), rng.poisson(5, size=(50, 7)).astype(float)
    actual[::9] = 0.0  # zero-sales days: MAPE's floor
    window = LiveErrorWindow(size=100, seconds=10.0)
    for p, y in zip(predicted, actual):
        window.add(0.0, list(p), list(y), naive=list(y + 2.0))
    live, count = window.metrics(0.0)
    sums = RegressionSums()
    sums.update(torch.tensor(predicted), torch.tensor(actual))
    expected = {k: float(v) for k, v in sums.metrics().items()}
    assert count == 50
    for name in ("mae", "rmse", "mape"):
        assert live[name] == pytest.approx(expected[name], rel=1e-12), name
    assert live["mase"] == pytest.approx(expected["mae"] / 2.0)


def test_a_number_actual_scores_the_first_forecast_day() -> None:
    window = LiveErrorWindow(size=10, seconds=10.0)
    window.add(0.0, [12.0, 99.0], 10.0, naive=[11.0, 0.0])
    assert window.metrics(0.0)[0]["mae"] == 2.0 and window.metrics(0.0)[0]["mase"] == 2.0


def test_degradation_ratio_is_live_over_validation_error() -> None:
    monitor = _monitor(validation={"mae": 2.0}, clock=lambda: 0.0)
    for i in range(10):
        monitor.predict(10.0, i)
    monitor.record_actuals(range(10), [13.0] * 10)
    live, _ = monitor.live_errors()
    assert monitor.degradation_ratio(live) == 1.5
    classifier = _monitor(validation={"accuracy": 0.9}, task="classification", clock=lambda: 0.0)
    for i, label in enumerate("aabb"):
        classifier.predict(label, i)
    classifier.record_actuals(range(4), "abbb")  # 3 of 4 right: error rate 0.25 over 0.1
    assert classifier.degradation_ratio(classifier.live_errors()[0]) == pytest.approx(2.5)


def _scraped(ids: list[str], actuals: list[float]) -> CollectorRegistry:
    """A monitor with a profile that made 5 predictions and was given these actuals, in a registry."""
    rng = np.random.default_rng(1)
    profile = compute_profile(rng.normal(size=(1000, 2)), ("sales", "promotion"))
    monitor = _monitor(validation={"mae": 1.0}, profile=profile, clock=lambda: 100.0)
    for i in range(5):
        monitor.predict(float(i), f"id-{i}", features=rng.normal(size=(28, 2)), naive=float(i) + 1.0)
    monitor.record_actuals(ids, actuals)
    registry = CollectorRegistry()
    registry.register(ServingCollector(lambda: [monitor], weight=lambda m: 0.1))
    return registry


def test_collector_exposes_every_series_with_the_version_labels() -> None:
    get = _scraped(["id-0", "id-1", "nope"], [0.5, 1.5, 3.0]).get_sample_value
    assert get("curvewatch_serving_predictions_total", LABELS) == 5
    assert get("curvewatch_serving_latency_seconds_count", LABELS) == 5
    assert get("curvewatch_serving_latency_seconds_bucket", {**LABELS, "le": "+Inf"}) == 5
    assert get("curvewatch_serving_actuals_matched_total", LABELS) == 2
    assert get("curvewatch_serving_actuals_unmatched_total", LABELS) == 1
    assert get("curvewatch_serving_pending_predictions", LABELS) == 3
    assert get("curvewatch_serving_live_error", {**LABELS, "metric": "mae"}) == 0.5
    assert get("curvewatch_serving_live_error", {**LABELS, "metric": "mase"}) == 1.0  # naive errs by 0.5 too
    assert get("curvewatch_serving_validation_error", {**LABELS, "metric": "mae"}) == 1.0
    assert get("curvewatch_serving_degradation_ratio", LABELS) == 0.5
    assert get("curvewatch_serving_drift_window_rows", LABELS) == 140
    assert get("curvewatch_serving_drift_available", LABELS) == 1
    assert get("curvewatch_serving_feature_psi", {**LABELS, "feature": "sales"}) < 0.25
    assert get("curvewatch_serving_traffic_weight", LABELS) == 0.1
    assert get("curvewatch_serving_last_actual_timestamp_seconds", LABELS) == 100.0


@pytest.mark.parametrize(("options", "message"), [({"role": "blue"}, "`role` can be primary, canary, shadow"),
                                                  ({"task": "ranking"}, "`task` can be regression, classification")])
def test_bad_options_are_refused_with_a_sentence(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelMonitor(lambda x: x, identifier="x", model_version=1, **options)


def test_the_serving_table_in_docs_architecture_is_what_the_collector_exposes() -> None:
    from fixtures.architecture import metric_table

    exposed = {}
    for family in _scraped(["id-0", "nope"], [0.5, 3.0]).collect():
        labels = set().union(*(set(s.labels) - {"le"} for s in family.samples)) if family.samples else set()
        exposed[family.name + ("_total" if family.type == "counter" else "")] = (family.type, labels)
    documented = metric_table("Serving metric names", set(LABELS), shorthand="curvewatch_serving")
    assert len(documented) >= 20
    assert documented == exposed  # every series the collector exposes is documented, with its type and labels
