"""The one config of the monitoring bundle: every selector, threshold, window and refresh rate.

Everything under ``prometheus/`` and ``grafana/`` and ``docker-compose.yml`` is generated from a
:class:`MonitoringConfig`; change a value here (or pass an override) and run
``curvewatch monitoring generate``. Durations are Prometheus durations (``"30s"``, ``"5m"``, ``"1h"``).

>>> fast = DEFAULT_CONFIG.with_overrides({"stall_seconds": "5", "stall_for": "2s"})
>>> fast.stall_seconds
5.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from curvewatch.prom.discovery import check_target_labels

__all__ = ["DEFAULT_CONFIG", "MonitoringConfig", "duration_seconds"]

ALERTING_PATHS = ("prometheus", "grafana")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(duration: str) -> float:
    """Seconds in a Prometheus duration such as ``"1h30m"``; a malformed one raises ``ValueError``."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"{duration!r} is not a Prometheus duration; write it like '30s', '5m' or '1h30m'.")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


@dataclass(frozen=True)
class MonitoringConfig:
    """Every knob of the generated Prometheus rules, Alertmanager config, Grafana dashboards and alerts."""

    # ---- Selectors ----------------------------------------------------------------------------------
    # Job of the training processes Prometheus scrapes (file-based discovery: prometheus/targets/*.json).
    # It is also the job a run pushes to the Pushgateway with (exporter.prom's default), kept by
    # honor_labels, so one selector matches scraped and pushed runs alike.
    trainer_job: str = "curvewatch"
    # Job of the Pushgateway itself (its own `up` series; pushed series keep their own job).
    pushgateway_job: str = "curvewatch-pushgateway"
    # Extra label matchers added to every curvewatch_* selector after job="<trainer_job>" (e.g.
    # 'cluster="a"'); "" adds none.
    selector: str = ""
    # Labels that identify one training process; every aggregation and join keeps them.
    run_labels: tuple[str, ...] = ("cluster", "job", "instance", "run_id", "rank")  # cluster: absent on one Prometheus
    # Trainer metric names (docs/ARCHITECTURE.md): the tracked validation loss, the epoch's mean
    # training loss, the per-batch training loss, the learning rate, and the chart holding the losses.
    val_metric: str = "val_loss"
    train_metric: str = "train_mse"
    batch_loss_metric: str = "train_loss"
    lr_metric: str = "lr"
    loss_chart: str = "loss"

    # ---- Recording rules ----------------------------------------------------------------------------
    # Steps/s is averaged over `rate_window`; the throughput alert compares it with the run's own best
    # such rate over the part of `baseline_window` it has actually run (a young run included).
    rate_window: str = "5m"
    baseline_window: str = "6h"
    # Window of the overfitting alert: the validation loss over its minimum, the training loss' trend.
    trend_window: str = "30m"
    # A run last seen running whose series vanished without a final state is reported this long.
    vanished_window: str = "1h"
    # Window of the Overview's "Non-finite values" count (a recording rule).
    nonfinite_count_window: str = "1h"
    # How often Prometheus evaluates the rules and scrapes the trainers.
    evaluation_interval: str = "15s"
    scrape_interval: str = "15s"

    # ---- Alerts: thresholds and `for:` windows ------------------------------------------------------
    # NaN/inf: any non-finite value counted within `nonfinite_window`, or a counter already above 0 that
    # had no sample `nonfinite_window` ago (NaN before the first scrape, or a newly discovered target).
    nonfinite_window: str = "5m"
    nonfinite_for: str = "1m"
    # Diverging: a tracked (mode=min) loss above `divergence_factor` times its best value.
    divergence_factor: float = 3.0
    divergence_for: str = "5m"
    # Overfitting: over `trend_window`, the validation loss rose more than `overfitting_rise` (a fraction:
    # 0.05 = 5%) above its minimum in that window while the training loss fell (negative deriv); a noisy
    # plateau stays under the threshold.
    overfitting_rise: float = 0.05
    overfitting_for: str = "10m"
    # No improvement: the best validation loss is older than this many steps.
    no_improvement_steps: int = 5000
    no_improvement_for: str = "5m"
    # Stalled: no step logged for `stall_seconds` (counted from the run's start while it has logged no
    # step yet) while the run says it is running. The condition itself waits `stall_seconds`, so `for:`
    # only rides out one missed scrape: the alert fires stall_seconds + stall_for after the last step
    # (6 minutes with these defaults; plus up to one scrape and one evaluation interval).
    stall_seconds: float = 300.0
    stall_for: str = "1m"
    # Throughput dropped: steps/s over `rate_window` under this fraction of the run's highest such rate
    # within `baseline_window` (it stays firing while the run is slow, up to `baseline_window`).
    throughput_fraction: float = 0.5
    throughput_for: str = "15m"
    # Exporter target down: a trainer target Prometheus cannot scrape (carries the run id its target file names).
    target_down_for: str = "2m"
    # Run vanished: last seen running, then its series went away without a final state (crash, OOM kill,
    # node loss); `for:` rides out one failed scrape.
    vanished_for: str = "2m"
    # Run failed: a run reported state `failed` (it ended by an exception) within `failed_window`. The
    # state is scraped (or pushed) once at the end, so the alert holds it this long (`for:` included).
    failed_window: str = "15m"
    failed_for: str = "1m"
    # Loss spike unrecovered (curvewatch.signals, docs/signals.md): a line matching `spike_metrics` (a regex)
    # spiked away from better and is not back at its pre-spike level after the detector's recover_steps.
    spike_metrics: str = ".*loss.*"
    spike_for: str = "2m"
    # Gradient exploding: the global gradient norm above `grad_explode_factor` x the run's median so far,
    # once `grad_min_steps` norms were measured (a young run's median means little).
    grad_explode_factor: float = 10.0
    grad_min_steps: int = 100
    grad_explode_for: str = "2m"
    # Severity label per alert kind.
    severity_critical: str = "critical"
    severity_warning: str = "warning"
    severity_info: str = "info"
    # runbook_url of every alert: this absolute URL plus "#<alert name in lower case>". The default is the
    # copy docker-compose's Grafana serves (grafana/public/); point it at your own browsable copy, e.g.
    # "https://github.com/<you>/curvewatch/blob/main/prometheus/runbook.md".
    runbook_url: str = "http://127.0.0.1:3000/public/curvewatch/runbook.md"
    # Example target labels in prometheus.yml's header and the demo target file ("name=value,..."); names
    # used by curvewatch's own series are refused (they would become exported_<name>).
    example_target_labels: tuple[str, ...] = ("site=gpu-box-1",)

    # ---- Served versions (curvewatch serve-model, docs/SERVING.md) ------------------------------------
    # Extra label matchers of every curvewatch_serving_* selector ("" adds none: any job that scrapes a
    # serving process or a main job's endpoint).
    serving_selector: str = ""
    # The scrape job of `curvewatch serve-model` processes: prometheus.yml reads the target files a service
    # writes with `--targets-dir prometheus/serving-targets`; the Kubernetes PodMonitor selects serving pods
    # and scrapes their `serving_port`.
    serving_job: str = "curvewatch-serving"
    serving_port: int = 8080
    # Model degraded: live MAE above `degraded_factor` x the archived validation MAE, once at least
    # `degraded_min_matched` joined predictions are in the live error window.
    degraded_factor: float = 1.5
    degraded_min_matched: int = 20
    degraded_for: str = "30m"
    # Feature drift: a feature's PSI against the version's training profile above `drift_psi` over at least
    # `drift_min_rows` recent input rows (PSI > 0.25 is the usual "large shift").
    drift_psi: float = 0.25
    drift_min_rows: int = 200
    drift_for: str = "30m"
    # Prediction latency: p99 of the model call over `latency_window` above `latency_slo_seconds`.
    latency_slo_seconds: float = 0.25
    latency_window: str = "5m"
    latency_for: str = "10m"
    # Actuals missing: predictions made `actuals_delay` ago (over `actuals_window`) and no actual joined in
    # the last `actuals_window` (sales arrive a day later: the delay is a day).
    actuals_delay: str = "1d"
    actuals_window: str = "12h"
    actuals_for: str = "30m"

    # ---- Alerting path: one, never both ---------------------------------------------------------------
    # "prometheus": Prometheus evaluates the alerts and sends them to Alertmanager (the default); the
    # Grafana-managed copy is generated into grafana/alternatives/ and not provisioned. "grafana": for a
    # setup without Alertmanager, the Grafana-managed rules and contact point are provisioned and
    # prometheus.yml sends alerts nowhere (its rules still show in its UI).
    alerting: str = "prometheus"

    # ---- Alertmanager -------------------------------------------------------------------------------
    # The example webhook receiver every alert is routed to; replace it with your own. It is a
    # placeholder reachable from the containers: docker-compose maps host.docker.internal to the
    # Docker host (a receiver listening on the host's port 5001); 127.0.0.1 would be the container.
    webhook_url: str = "http://host.docker.internal:5001/curvewatch"
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"

    # ---- Grafana ------------------------------------------------------------------------------------
    # Provisioned Prometheus datasource: its uid (dashboards and alert rules reference it) and URL.
    datasource_uid: str = "curvewatch-prometheus"
    datasource_url: str = "http://prometheus:9090"
    # Folder of the dashboards and Grafana-managed alert rules.
    grafana_folder: str = "curvewatch"
    # Dashboard auto-refresh (never faster than scrape_interval) and default time range.
    dashboard_refresh: str = "30s"
    dashboard_time_from: str = "now-6h"
    # The contact point's webhook URL is read from this environment variable of the Grafana container.
    webhook_url_env: str = "CURVEWATCH_WEBHOOK_URL"

    # ---- docker-compose -----------------------------------------------------------------------------
    # Pinned images; every published port is bound to 127.0.0.1.
    prometheus_image: str = "prom/prometheus:v2.53.2"
    alertmanager_image: str = "prom/alertmanager:v0.27.0"
    pushgateway_image: str = "prom/pushgateway:v1.9.0"
    grafana_image: str = "grafana/grafana:11.6.0"
    # The demo trainer's exporter port (and its target in prometheus/targets/demo-trainer.json).
    trainer_port: int = 9108
    # URLs under which people reach Prometheus and Alertmanager (--web.external-url: alert links).
    prometheus_external_url: str = "http://127.0.0.1:9090"
    alertmanager_external_url: str = "http://127.0.0.1:9093"

    @property
    def job_matcher(self) -> str:
        """``job="<trainer_job>"`` plus the extra ``selector`` matchers."""
        return ", ".join(m for m in (f'job="{self.trainer_job}"', self.selector) if m)

    def target_labels(self) -> dict[str, str]:
        """``example_target_labels`` as a dict."""
        return dict(pair.split("=", 1) for pair in self.example_target_labels)

    def with_overrides(self, overrides: Mapping[str, object]) -> MonitoringConfig:
        """A copy with some fields replaced; string values are converted to the field's type."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, object] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ValueError(f"{name!r} is not a monitoring config field; choose one of {', '.join(known)}.")
            current = getattr(self, name)
            if isinstance(value, str) and not isinstance(current, str):
                value = tuple(value.split(",")) if isinstance(current, tuple) else type(current)(value)
            changes[name] = value
        config = replace(self, **changes)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first malformed duration or out-of-range threshold."""
        for f in fields(self):
            if f.name.endswith(("_window", "_for", "_interval", "_wait", "_refresh")):
                duration_seconds(getattr(self, f.name))
        if self.alerting not in ALERTING_PATHS:
            raise ValueError(f"alerting can be {', '.join(ALERTING_PATHS)}, got {self.alerting!r}.")
        if not 0 < self.throughput_fraction < 1:
            raise ValueError(f"throughput_fraction must be between 0 and 1, got {self.throughput_fraction}.")
        if self.overfitting_rise <= 0:
            raise ValueError(f"overfitting_rise must be above 0 (0.05 means 5%), got {self.overfitting_rise}.")
        if self.divergence_factor <= 1:
            raise ValueError(f"divergence_factor must be above 1, got {self.divergence_factor}.")
        if self.grad_explode_factor <= 1 or self.grad_min_steps < 1:
            raise ValueError(f"grad_explode_factor must be above 1 and grad_min_steps at least 1, got "
                             f"{self.grad_explode_factor} and {self.grad_min_steps}.")
        if self.degraded_factor <= 1:
            raise ValueError(f"degraded_factor must be above 1 (1.5: live MAE 50% above validation), "
                             f"got {self.degraded_factor}.")
        if not self.drift_psi > 0 or not self.latency_slo_seconds > 0:
            raise ValueError(f"drift_psi and latency_slo_seconds must be above 0, got {self.drift_psi} and "
                             f"{self.latency_slo_seconds}.")
        duration_seconds(self.actuals_delay)
        if duration_seconds(self.dashboard_refresh) < duration_seconds(self.scrape_interval):
            raise ValueError(f"dashboard_refresh {self.dashboard_refresh} is faster than scrape_interval "
                             f"{self.scrape_interval}; a refresh in between shows nothing new. Choose at least that.")
        for name in ("runbook_url", "prometheus_external_url", "alertmanager_external_url"):
            if not re.match(r"https?://[^/\s]+", getattr(self, name)):
                raise ValueError(f"{name} must be an absolute http(s) URL (links in alerts open from anywhere), "
                                 f"got {getattr(self, name)!r}.")
        if not all("=" in pair for pair in self.example_target_labels):
            raise ValueError(f"example_target_labels must be name=value pairs, got {self.example_target_labels}.")
        check_target_labels(self.target_labels())
        for name in ("trainer_job", "pushgateway_job", "serving_job", "val_metric", "train_metric", "loss_chart",
                     "spike_metrics"):
            if not getattr(self, name) or '"' in getattr(self, name) or "\\" in getattr(self, name):
                raise ValueError(f"{name} must be a non-empty label value without quotes or backslashes, "
                                 f"got {getattr(self, name)!r}.")


DEFAULT_CONFIG = MonitoringConfig()
