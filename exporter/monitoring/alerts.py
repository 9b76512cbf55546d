"""The alerts, one shape for all: ``Curvewatch…`` name, ``for:``, severity, summary, description, runbook.

The same :class:`Alert` list is written as Prometheus alerting rules (``prometheus/rules/``, the one
alerting path by default, through Alertmanager) and as Grafana-managed alert rules (generated into
``grafana/alternatives/``, for a Grafana without Alertmanager: use one or the other, never both).
Every expression is self-contained (raw series only, no recording rule), so the Grafana copy never
depends on rules it cannot see. Descriptions are Go templates over ``$labels`` and ``$value``; every
alert is tested with ``promtool test rules`` (``rule_tests.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from curvewatch.monitoring.config import DEFAULT_CONFIG, MonitoringConfig, duration_seconds
from curvewatch.monitoring.promql import Queries, eq
from curvewatch.monitoring.signal_alerts import signal_alerts
from curvewatch.prom._names import SD_RANK_LABEL, SD_RUN_ID_LABEL

__all__ = ["ALERT_PREFIX", "Alert", "alerts"]

ALERT_PREFIX = "Curvewatch"
_RUN = "run {{ $labels.run_id }} (rank {{ $labels.rank }})"
_RUN_TITLE = "R" + _RUN[1:]


@dataclass(frozen=True)
class Alert:
    """One alerting rule; ``labels`` are the extra labels (``severity``)."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    @property
    def labels(self) -> dict[str, str]:
        return {"severity": self.severity}

    def runbook_url(self, config: MonitoringConfig) -> str:
        """The runbook section of this alert: ``<config.runbook_url>#<name in lower case>``."""
        return f"{config.runbook_url}#{self.name.lower()}"

    def annotations(self, config: MonitoringConfig) -> dict[str, str]:
        return {"summary": self.summary, "description": self.description, "runbook_url": self.runbook_url(config)}


def _num(value: float) -> str:
    """A threshold as written in PromQL and in descriptions: no trailing ``.0``."""
    return f"{value:g}"


def _baseline_step(config: MonitoringConfig) -> str:
    """Resolution of the throughput baseline's subquery: a fifth of ``rate_window`` (1m by default)."""
    return f"{max(1, int(duration_seconds(config.rate_window) // 5))}s"


def alerts(config: MonitoringConfig = DEFAULT_CONFIG) -> list[Alert]:
    """Every alert for ``config``, in the order they are written to the rules file."""
    q, c = Queries(config), config
    val = eq("metric", c.val_metric)
    nonfinite = q.metric("curvewatch_nonfinite_total")
    heartbeat = q.metric("curvewatch_last_step_timestamp_seconds")
    started = q.metric("curvewatch_run_start_time_seconds")
    train_trend = f"deriv({q.metric('curvewatch_value', eq('metric', c.train_metric))}[{c.trend_window}])"
    rate = q.rate_expr()
    up_down = f"up{{{c.job_matcher}}} == 0"
    return [
        Alert(
            f"{ALERT_PREFIX}NonFiniteValues",
            # The second branch: a counter first seen above 0 (NaN before the first scrape, or a target
            # discovered late), where increase() has nothing to compare with.
            f"increase({nonfinite}[{c.nonfinite_window}]) > 0\n"
            f"or ({nonfinite} > 0 unless {nonfinite} offset {c.nonfinite_window})",
            c.nonfinite_for, c.severity_critical,
            "A run logged NaN or infinite values.",
            f"{{{{ $labels.metric }}}} of {_RUN} logged NaN or infinite values in the last "
            f"{c.nonfinite_window}; the model's weights are probably no longer finite.",
        ),
        Alert(
            f"{ALERT_PREFIX}LossDiverging",
            f"{q.over_best_expr()}\n> {_num(c.divergence_factor)}\n{q.running}",
            c.divergence_for, c.severity_warning,
            "A loss is far above its best value.",
            f"{{{{ $labels.metric }}}} of {_RUN} is {{{{ $value | printf \"%.1f\" }}}} times its best value "
            f"(limit {_num(c.divergence_factor)}).",
        ),
        Alert(
            f"{ALERT_PREFIX}Overfitting",
            f"{q.metric('curvewatch_value', val)}\n/ (min_over_time({q.metric('curvewatch_value', val)}"
            f"[{c.trend_window}]) > 0)\n> {_num(1 + c.overfitting_rise)}\n"
            f"and on ({q.by_run})\n{train_trend} < 0\n{q.running}",
            c.overfitting_for, c.severity_warning,
            "Validation loss rises while training loss falls.",
            f"{{{{ $labels.metric }}}} of {_RUN} is {{{{ $value | printf \"%.2f\" }}}} times its minimum over "
            f"the last {c.trend_window} (limit {_num(1 + c.overfitting_rise)}) while {c.train_metric} "
            f"kept falling.",
        ),
        Alert(
            f"{ALERT_PREFIX}NoImprovement",
            # Every tracked metric, whatever its name and mode (curvewatch_best_value's labels say which).
            f"{q.metric('curvewatch_steps_since_best')} > {c.no_improvement_steps}\n{q.running}",
            c.no_improvement_for, c.severity_info,
            "A tracked metric's best value is many steps old.",
            f"{{{{ $labels.metric }}}} of {_RUN} has not improved for {{{{ $value | printf \"%.0f\" }}}} "
            f"steps (limit {c.no_improvement_steps}).",
        ),
        Alert(
            f"{ALERT_PREFIX}TrainingStalled",
            # Seconds since the last step; for a run that has logged no step yet, since its start.
            f"(\ntime() - {heartbeat} > {_num(c.stall_seconds)}\n"
            f"or\n(time() - {started} > {_num(c.stall_seconds)} unless on ({q.by_run}) {heartbeat})\n)\n"
            f"{q.running}",
            c.stall_for, c.severity_critical,
            "A running training logs no more steps.",
            f"{_RUN_TITLE} has logged no step for {{{{ $value | printf \"%.0f\" }}}}s (since its last step, or "
            f"its start if it logged none) and still says it is running (limit {_num(c.stall_seconds)}s).",
        ),
        Alert(
            f"{ALERT_PREFIX}ThroughputDropped",
            # The baseline is the run's own highest rate within baseline_window: max_over_time covers only
            # the time the run has existed (a young run is compared with its first minutes), and it does not
            # sink with the slowdown, so the alert stays firing while the run is slow.
            f"{rate}\n< {_num(c.throughput_fraction)} * (\nmax_over_time({rate}[{c.baseline_window}:"
            f"{_baseline_step(c)}]) > 0\n)\n{q.running}",
            c.throughput_for, c.severity_warning,
            "A run's steps per second dropped well below its own earlier rate.",
            f"{_RUN_TITLE} runs at {{{{ $value | printf \"%.2f\" }}}} steps/s over {c.rate_window}, "
            f"under {_num(c.throughput_fraction * 100)}% of its highest rate within the last {c.baseline_window}.",
        ),
        Alert(
            f"{ALERT_PREFIX}RunFailed",
            f"max_over_time({q.metric('curvewatch_run_state', eq('state', 'failed'))}[{c.failed_window}]) == 1",
            c.failed_for, c.severity_critical,
            "A run ended with an error.",
            f"{_RUN_TITLE} ended in state failed (an exception stopped it) within the last {c.failed_window}; its "
            f"archive version is marked failed with the reason.",
        ),
        Alert(
            f"{ALERT_PREFIX}RunVanished",
            q.vanished_expr(),
            c.vanished_for, c.severity_critical,
            "A running run disappeared without a final state.",
            f"{_RUN_TITLE} was last seen running and its series are gone without a finished or failed state: "
            f"the process crashed, was killed (OOM) or lost its node.",
        ),
        Alert(
            f"{ALERT_PREFIX}TargetDown",
            # The run id and rank come from the target labels the trainer wrote into its file_sd file.
            f'label_replace(label_replace(\n{up_down},\n"run_id", "$1", "{SD_RUN_ID_LABEL}", "(.+)"),\n'
            f'"rank", "$1", "{SD_RANK_LABEL}", "(.+)")',
            c.target_down_for, c.severity_warning,
            "Prometheus cannot scrape a training process.",
            f"Prometheus has not scraped {{{{ $labels.instance }}}} (job {{{{ $labels.job }}}}, run "
            f"{{{{ $labels.run_id }}}}) for {c.target_down_for}; the process died, hangs, or its target file is stale.",
        ),
        *signal_alerts(config),  # loss spikes, gradient norm (signal_alerts.py)
    ]
