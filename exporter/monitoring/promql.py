"""PromQL building blocks shared by the recording rules, the alerts and the dashboards.

One :class:`Queries` per config: selectors with the config's matchers, the recording rules (name and
expression) and the joins on the labels of one training process.

>>> q = Queries(DEFAULT_CONFIG)
>>> q.metric("curvewatch_step")
'curvewatch_step{job="curvewatch"}'
"""

from __future__ import annotations

from dataclasses import dataclass

from curvewatch.monitoring.config import DEFAULT_CONFIG, MonitoringConfig

__all__ = ["DEFAULT_QUERIES", "RUN_STATE_CODES", "Queries", "RecordingRule", "eq"]

# curvewatch_run_state as one number per run (the dashboards map it back to text).
RUN_STATE_CODES = {"running": 1, "finished": 2, "failed": 3}


@dataclass(frozen=True)
class RecordingRule:
    """One Prometheus recording rule: the series name it records and its expression."""

    record: str
    expr: str


@dataclass(frozen=True)
class Queries:
    """Selectors and recorded series names for one :class:`MonitoringConfig`."""

    config: MonitoringConfig

    def metric(self, name: str, *matchers: str) -> str:
        """``name{<config selector>, <matchers>}``; empty matchers are left out."""
        parts = [m for m in (self.config.selector, *matchers) if m]
        return f"{name}{{{', '.join(parts)}}}"

    @property
    def by_run(self) -> str:
        """The labels of one training process, comma separated (for ``by (...)`` and ``on (...)``)."""
        return ", ".join(self.config.run_labels)

    @property
    def running(self) -> str:
        """Filter to append to an expression: only processes whose run is in state ``running``."""
        state = self.metric("curvewatch_run_state", 'state="running"')
        return f"and on ({self.by_run}) {state} == 1"

    # ---- recorded series -------------------------------------------------------------------------
    @property
    def steps_per_second(self) -> str:
        return f"curvewatch:steps_per_second:rate{self.config.rate_window}"

    @property
    def steps_per_second_baseline(self) -> str:
        return f"curvewatch:steps_per_second:rate{self.config.baseline_window}"

    @property
    def val_train_gap(self) -> str:
        return "curvewatch:val_train_gap:value"

    @property
    def over_best(self) -> str:
        return "curvewatch:value_over_best:ratio"

    @property
    def trend(self) -> str:
        return f"curvewatch:value:deriv{self.config.trend_window}"

    @property
    def state_code(self) -> str:
        return "curvewatch:run_state:code"

    @property
    def heartbeat_age(self) -> str:
        return "curvewatch:seconds_since_last_step:value"

    def recording_rules(self) -> list[RecordingRule]:
        """Every recording rule, in the order they are written to the rules file."""
        c = self.config
        steps = self.metric("curvewatch_steps_total")
        val = self.metric("curvewatch_value", eq("metric", c.val_metric))
        train = self.metric("curvewatch_value", eq("metric", c.train_metric))
        best = self.metric("curvewatch_best_value", eq("mode", "min"))
        states = "\nor ".join(
            f'({self.metric("curvewatch_run_state", eq("state", name))} == 1) * {code}'
            for name, code in RUN_STATE_CODES.items()
        )
        return [
            RecordingRule(self.steps_per_second, f"rate({steps}[{c.rate_window}])"),
            RecordingRule(self.steps_per_second_baseline, f"rate({steps}[{c.baseline_window}])"),
            RecordingRule(self.val_train_gap, f"{val}\n- ignoring (chart, metric)\n{train}"),
            RecordingRule(self.over_best, f"{self.metric('curvewatch_value')}\n/ ignoring (chart, mode)\n({best} > 0)"),
            RecordingRule(self.trend, f"deriv({self.metric('curvewatch_value')}[{c.trend_window}])"),
            RecordingRule(self.state_code, f"max by ({self.by_run}) (\n{states}\n)"),
            RecordingRule(self.heartbeat_age, f"time() - {self.metric('curvewatch_last_step_timestamp_seconds')}"),
        ]


def eq(label: str, value: str) -> str:
    """The matcher ``label="value"``."""
    return f'{label}="{value}"'


DEFAULT_QUERIES = Queries(DEFAULT_CONFIG)
