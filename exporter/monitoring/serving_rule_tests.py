"""``promtool test rules`` cases for the served-version alerts (``serving_alerts.py``), from the same config.

One group per alert: a bad version (``model_version="2"``, the canary) beside healthy ones (``"1"``, the
primary, and a version whose numbers are bad but too few to count). Two evaluations per group, as for
the training alerts (``rule_tests.py``): one minute before the ``for:`` window can have elapsed nothing
fires; one minute after, exactly the bad version fires with its exact labels and rendered annotations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from curvewatch.monitoring._yaml import dump_yaml
from curvewatch.monitoring.config import MonitoringConfig, duration_seconds
from curvewatch.monitoring.prometheus_files import ALERT_RULES_FILE, RECORDING_RULES_FILE
from curvewatch.monitoring.rule_tests import render_template
from curvewatch.monitoring.serving_alerts import serving_alerts

__all__ = ["SERVING_RULE_TESTS_FILE", "serving_rule_test_files", "serving_rule_tests"]

SERVING_RULE_TESTS_FILE = "prometheus/tests/curvewatch.serving.test.yml"
_BASE = {"job": "curvewatch-serving", "instance": "10.0.0.5:8080", "identifier": "product_P001_all_tcn"}
_BAD = {**_BASE, "model_version": "2", "role": "canary"}
_OK = {**_BASE, "model_version": "1", "role": "primary"}
_FEW = {**_BASE, "model_version": "3", "role": "shadow"}


@dataclass
class _Case:
    series: list[tuple[str, str]]
    labels: dict[str, str]  # of the firing series, severity excluded
    starts: int  # minute from which the condition holds
    value: str  # the rendered {{ $value | printf }} text after the for: window
    interval: int = 1  # minutes between input samples


def _series(name: str, values: str, labels: dict[str, str], **extra: str) -> tuple[str, str]:
    body = ", ".join(f'{k}="{v}"' for k, v in {**labels, **extra}.items())
    return f"curvewatch_serving_{name}{{{body}}}", values


def _cases(c: MonitoringConfig) -> dict[str, _Case]:
    n = 120  # samples per series
    few = max(1, c.degraded_min_matched // 4)
    rows = max(1, c.drift_min_rows // 4)
    bad_ratio, bad_psi = 2 * c.degraded_factor, 2 * c.drift_psi
    delay, window = (int(duration_seconds(d) // 60) for d in (c.actuals_delay, c.actuals_window))
    step = 10 if delay % 10 == 0 and window % 10 == 0 else 1  # sample interval (minutes) of the actuals case
    stop = delay + window // 2  # the bad version's actuals stop here
    latency_minutes = math.ceil(duration_seconds(c.latency_window) / 60)
    slow, fast = c.latency_slo_seconds * 2, c.latency_slo_seconds / 2  # bucket bounds around the SLO
    steps = (stop + window + 2 * int(duration_seconds(c.actuals_for) // 60)) // step + 10
    at = 31 + math.ceil(duration_seconds(c.latency_for) / 60) + 1  # the latency case's firing evaluation
    fast_share = max(0, 30 - (at - latency_minutes)) / latency_minutes  # of the requests in its rate window
    p99 = fast + (slow - fast) * (0.99 - fast_share) / (1 - fast_share)

    def latency(labels: dict[str, str], fast_until: int | None) -> list[tuple[str, str]]:
        fast_count = f"0+60x{n}" if fast_until is None else f"0+60x{fast_until} {60 * fast_until}x{n}"
        return [_series("latency_seconds_bucket", fast_count, labels, le=f"{fast:g}"),
                _series("latency_seconds_bucket", f"0+60x{n}", labels, le=f"{slow:g}"),
                _series("latency_seconds_bucket", f"0+60x{n}", labels, le="+Inf")]

    return {
        "ModelDegraded": _Case(
            [_series("degradation_ratio", f"1x29 {bad_ratio:g}x{n}", _BAD),
             _series("degradation_ratio", f"1.1x{n}", _OK),
             _series("degradation_ratio", f"{bad_ratio:g}x{n}", _FEW)]
            + [_series("window_matched", f"{c.degraded_min_matched * 5}x{n}", v) for v in (_BAD, _OK)]
            + [_series("window_matched", f"{few}x{n}", _FEW)],
            _BAD, 30, f"{bad_ratio:.2f}"),
        "FeatureDrift": _Case(
            [_series("feature_psi", f"0.05x29 {bad_psi:g}x{n}", _BAD, feature="sales"),
             _series("feature_psi", f"0.05x{n}", _BAD, feature="promotion"),
             _series("feature_psi", f"{c.drift_psi / 2:g}x{n}", _OK, feature="sales"),
             _series("feature_psi", f"{bad_psi:g}x{n}", _FEW, feature="sales")]
            + [_series("drift_window_rows", f"{c.drift_min_rows * 5}x{n}", v) for v in (_BAD, _OK)]
            + [_series("drift_window_rows", f"{rows}x{n}", _FEW)],
            {**_BAD, "feature": "sales"}, 30, f"{bad_psi:.2f}"),
        # Every request under fast seconds until minute 30, then between fast and slow: p99 interpolates in
        # (fast, slow] by the slow requests' share of the rate window (fast + 0.99 (slow - fast) once all are).
        "PredictionLatencyHigh": _Case(latency(_BAD, 30) + latency(_OK, None), _BAD, 31, f"{p99:.3f}"),
        # One prediction a minute throughout; the bad version's actuals stop, the healthy one's go on, and a
        # version deployed late (no predictions a delay ago yet) gets none.
        "ActualsMissing": _Case(
            [_series("predictions_total", f"0+{step}x{steps}", v) for v in (_BAD, _OK)]
            + [_series("actuals_matched_total", f"0+{step}x{stop // step} {stop}x{steps}", _BAD),
               _series("actuals_matched_total", f"0+{step}x{steps}", _OK),
               _series("predictions_total", f"_x{stop // step} 0+{step}x{steps}", _FEW),
               _series("actuals_matched_total", f"_x{steps}", _FEW)],
            _BAD, stop + window - step + 1, f"{window:.0f}", interval=step),  # first minute the window is flat
    }


def serving_rule_tests(config: MonitoringConfig) -> dict[str, Any]:
    """The promtool test file (as a dict) of ``config``'s served-version alerts."""
    by_name = {a.name: a for a in serving_alerts(config)}
    tests = []
    for short, case in _cases(config).items():
        alert = next(a for name, a in by_name.items() if name.endswith(short))
        for_minutes = math.ceil(duration_seconds(alert.for_) / 60)
        annotations = dict(alert.annotations(config), description=render_template(
            alert.description, case.labels, case.value))
        tests.append({
            "name": alert.name,
            "interval": f"{case.interval}m",
            "input_series": [{"series": s, "values": v} for s, v in case.series],
            "alert_rule_test": [
                {"eval_time": f"{case.starts + for_minutes - 1}m", "alertname": alert.name, "exp_alerts": []},
                {"eval_time": f"{case.starts + for_minutes + 1}m", "alertname": alert.name, "exp_alerts": [
                    {"exp_labels": {**case.labels, **alert.labels}, "exp_annotations": annotations}]},
            ],
        })
    missing = set(by_name) - {t["name"] for t in tests}
    if missing:
        raise RuntimeError(f"Alerts without a promtool test case: {', '.join(sorted(missing))}; add one to _cases.")
    return {"rule_files": [f"../rules/{p.rsplit('/', 1)[1]}" for p in (RECORDING_RULES_FILE, ALERT_RULES_FILE)],
            "evaluation_interval": "1m", "tests": tests}


def serving_rule_test_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of the served-version promtool test file."""
    return {SERVING_RULE_TESTS_FILE: dump_yaml(serving_rule_tests(config))}
