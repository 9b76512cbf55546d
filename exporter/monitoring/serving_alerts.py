"""The alerts on served versions (``curvewatch.serving``), one shape with the training alerts (``alerts.py``).

Written as their own rule group (``curvewatch.serving.alerts``) beside the training alerts, and tested
with ``promtool test rules`` by ``serving_rule_tests.py``. Every series they read carries
``identifier``, ``model_version`` and ``role``; the alert keeps them, with ``job`` and ``instance``.
What to do for each: docs/SERVING.md and the runbook sections the ``runbook_url`` points at.
"""

from __future__ import annotations

from curvewatch.monitoring.alerts import ALERT_PREFIX, Alert
from curvewatch.monitoring.config import DEFAULT_CONFIG, MonitoringConfig

__all__ = ["SERVING_ALERT_GROUP", "SERVING_LABELS", "serving_alerts", "serving_series"]

SERVING_ALERT_GROUP = "curvewatch.serving.alerts"
SERVING_LABELS = "job, instance, identifier, model_version, role"
_VERSION = "{{ $labels.identifier }} v{{ $labels.model_version }} ({{ $labels.role }})"


def serving_series(config: MonitoringConfig, name: str, *matchers: str) -> str:
    """``curvewatch_serving_<name>{<serving_selector>, <matchers>}`` (no braces when both are empty)."""
    parts = [m for m in (config.serving_selector, *matchers) if m]
    return f"curvewatch_serving_{name}" + (f"{{{', '.join(parts)}}}" if parts else "")


def _num(value: float) -> str:
    return f"{value:g}"


def serving_alerts(config: MonitoringConfig = DEFAULT_CONFIG) -> list[Alert]:
    """Every served-version alert for ``config``, in rules-file order."""
    c, s = config, lambda name, *m: serving_series(config, name, *m)
    on = f"on ({SERVING_LABELS})"
    p99 = (f"histogram_quantile(0.99, sum by ({SERVING_LABELS}, le) "
           f"(rate({s('latency_seconds_bucket')}[{c.latency_window}])))")
    return [
        Alert(
            f"{ALERT_PREFIX}ModelDegraded",
            f"{s('degradation_ratio')} > {_num(c.degraded_factor)}\n"
            f"and {on} {s('window_matched')} >= {c.degraded_min_matched}",
            c.degraded_for, c.severity_warning,
            "A served version's live error is well above its validation error.",
            f"The live MAE of {_VERSION} is {{{{ $value | printf \"%.2f\" }}}} times its archived validation MAE "
            f"(limit {_num(c.degraded_factor)}) over its last joined predictions.",
        ),
        Alert(
            f"{ALERT_PREFIX}FeatureDrift",
            f"{s('feature_psi')} > {_num(c.drift_psi)}\n"
            f"and {on} {s('drift_window_rows')} >= {c.drift_min_rows}",
            c.drift_for, c.severity_warning,
            "A served version's inputs drifted from its training data.",
            f"Feature {{{{ $labels.feature }}}} of {_VERSION} has PSI {{{{ $value | printf \"%.2f\" }}}} against "
            f"the version's training profile (limit {_num(c.drift_psi)}).",
        ),
        Alert(
            f"{ALERT_PREFIX}PredictionLatencyHigh",
            f"{p99}\n> {_num(c.latency_slo_seconds)}",
            c.latency_for, c.severity_warning,
            "A served version answers slower than its latency SLO.",
            f"The p99 latency of {_VERSION} over {c.latency_window} is {{{{ $value | printf \"%.3f\" }}}}s "
            f"(SLO {_num(c.latency_slo_seconds)}s).",
        ),
        Alert(
            f"{ALERT_PREFIX}ActualsMissing",
            f"increase({s('predictions_total')}[{c.actuals_window}] offset {c.actuals_delay}) > 0\n"
            f"unless {on} increase({s('actuals_matched_total')}[{c.actuals_window}]) > 0",
            c.actuals_for, c.severity_warning,
            "A served version gets no actuals for its predictions.",
            f"{_VERSION} made {{{{ $value | printf \"%.0f\" }}}} predictions over {c.actuals_window} ending "
            f"{c.actuals_delay} ago and no actual was joined in the last {c.actuals_window}: its live error is blind.",
        ),
    ]
