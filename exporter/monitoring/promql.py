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
        """``name{job="<trainer_job>", <config selector>, <matchers>}``; empty matchers are left out."""
        parts = [m for m in (self.config.job_matcher, *matchers) if m]
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

    # ---- expressions shared by alerts and recording rules (self-contained: no recorded series) -----
    def rate_expr(self) -> str:
        return f"rate({self.metric('curvewatch_steps_total')}[{self.config.rate_window}])"

    def over_best_expr(self, *, max_mode: bool = False) -> str:
        """Each line of a ``min``-tracked metric divided by its best (1 at a new best, above 1 when worse);
        ``max_mode`` adds ``max``-tracked metrics as best divided by the line (same reading)."""
        value = self.metric("curvewatch_value")
        expr = f"{value}\n/ ignoring (chart, mode)\n({self.metric('curvewatch_best_value', eq('mode', 'min'))} > 0)"
        if max_mode:
            best_max = self.metric("curvewatch_best_value", eq("mode", "max"))
            expr = f"(\n{expr}\n)\nor\n(\n{best_max}\n/ ignoring (chart, mode) group_right ()\n({value} > 0)\n)"
        return expr

    def vanished_expr(self) -> str:
        """1 for each run last seen ``running`` within ``vanished_window`` whose series are gone now.

        Matched on ``run_id, rank`` only: a run resumed under another instance (port) is not vanished,
        and a final state pushed to the Pushgateway counts as seen.
        """
        c = self.config
        running = self.metric("curvewatch_run_state", eq("state", "running"))
        return (f"max by ({self.by_run}) (last_over_time({running}[{c.vanished_window}])) == 1\n"
                f"unless on (run_id, rank)\n{self.metric('curvewatch_run_state')}")

    # ---- recorded series -------------------------------------------------------------------------
    @property
    def steps_per_second(self) -> str:
        return f"curvewatch:steps_per_second:rate{self.config.rate_window}"

    @property
    def over_best(self) -> str:
        return "curvewatch:value_over_best:ratio"

    @property
    def state_code(self) -> str:
        return "curvewatch:run_state:code"

    @property
    def heartbeat_age(self) -> str:
        return "curvewatch:seconds_since_last_step:value"

    @property
    def vanished(self) -> str:
        return "curvewatch:run_vanished:bool"

    @property
    def nonfinite_recent(self) -> str:
        return f"curvewatch:nonfinite:increase{self.config.nonfinite_count_window}"

    def recording_rules(self) -> list[RecordingRule]:
        """Every recording rule, in the order they are written to the rules file (the dashboards' costly
        queries; no alert depends on them, so the Grafana-managed alerts need none)."""
        c = self.config
        states = "\nor ".join(
            f'({self.metric("curvewatch_run_state", eq("state", name))} == 1) * {code}'
            for name, code in RUN_STATE_CODES.items()
        )
        nonfinite = self.metric("curvewatch_nonfinite_total")
        return [
            RecordingRule(self.steps_per_second, self.rate_expr()),
            RecordingRule(self.over_best, self.over_best_expr(max_mode=True)),
            RecordingRule(self.state_code, f"max by ({self.by_run}) (\n{states}\n)"),
            RecordingRule(self.heartbeat_age, f"time() - {self.metric('curvewatch_last_step_timestamp_seconds')}"),
            RecordingRule(self.vanished, self.vanished_expr()),
            RecordingRule(self.nonfinite_recent,
                          f"sum by ({self.by_run}) (increase({nonfinite}[{c.nonfinite_count_window}]))"),
        ]


def eq(label: str, value: str) -> str:
    """The matcher ``label="value"``."""
    return f'{label}="{value}"'


DEFAULT_QUERIES = Queries(DEFAULT_CONFIG)
