"""The training-signal alerts (``curvewatch.signals``, docs/signals.md), one shape with the others (``alerts.py``).

They join the training alerts' group (``alerts()`` appends them), so the rules file, the Grafana-managed
copy, the runbook check and the live tests cover them like every other alert. Their promtool cases are
:func:`signal_cases`, merged into ``rule_tests._cases``. :func:`spike_annotation` marks spike events on the
run dashboard (``dashboards.run_detail``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.promql import Queries

__all__ = ["SPIKE_ANNOTATION", "signal_alerts", "signal_cases", "spike_annotation"]

SPIKE_ANNOTATION = "curvewatch spikes"

_RUN = "run {{ $labels.run_id }} (rank {{ $labels.rank }})"


def _num(value: float) -> str:
    return f"{value:g}"


def signal_alerts(config: MonitoringConfig) -> list[Any]:
    """``CurvewatchLossSpikeUnrecovered`` and ``CurvewatchGradientExploding`` for ``config``."""
    from curvewatch.monitoring.alerts import ALERT_PREFIX, Alert

    q, c = Queries(config), config
    norm, median = q.metric("curvewatch_grad_norm"), q.metric("curvewatch_grad_norm_median")
    steps = q.metric("curvewatch_grad_norm_steps_total")
    return [
        Alert(
            f"{ALERT_PREFIX}LossSpikeUnrecovered",
            f"{q.metric('curvewatch_spike_unrecovered', f'metric=~{chr(34)}{c.spike_metrics}{chr(34)}')} == 1\n"
            f"{q.running}",
            c.spike_for, c.severity_warning,
            "A loss spiked and has not come back to its level before the spike.",
            f"{{{{ $labels.metric }}}} of {_RUN} spiked and is still away from its pre-spike level after the "
            f"detector's recover_steps steps (curvewatch_last_spike_step has the step).",
        ),
        Alert(
            f"{ALERT_PREFIX}GradientExploding",
            f"{norm}\n> on ({q.by_run}) {_num(c.grad_explode_factor)} * {median}\n"
            f"and on ({q.by_run}) {steps} >= {c.grad_min_steps}\n{q.running}",
            c.grad_explode_for, c.severity_warning,
            "A run's gradient norm is far above its own median.",
            f"The global gradient norm of {_RUN} is {{{{ $value | printf \"%.3g\" }}}}, more than "
            f"{_num(c.grad_explode_factor)} times the run's median so far.",
        ),
    ]


def spike_annotation(selectors: Any, run_matcher: str) -> Any:
    """A Grafana annotation at each scrape that counted a new spike event of the runs ``run_matcher`` selects."""
    from grafana_foundation_sdk.builders import dashboard as dash_b

    spikes = selectors.series("curvewatch_spikes_total", run_matcher)
    return (dash_b.AnnotationQuery().name(SPIKE_ANNOTATION).datasource(selectors.datasource).enable(True)
            # the second branch: a counter first seen above 0 (a spike before the first scrape)
            .icon_color("orange").expr(f"changes({spikes}[1m]) > 0\nor ({spikes} > 0 unless {spikes} offset 1m)"))


def signal_cases(c: MonitoringConfig, total: int, run: dict[str, str], gated: Callable[..., list],
                 series: Callable[..., tuple[str, str]], case: Callable[..., Any]) -> dict[str, Any]:
    """promtool groups: a bad run beside healthy ones (``ok``) and a finished one (``done``) with bad values."""
    watched = [m for m in (c.batch_loss_metric, c.val_metric, c.train_metric) if re.fullmatch(c.spike_metrics, m)]
    if not watched:
        raise ValueError(f"spike_metrics {c.spike_metrics!r} matches none of the loss metrics the config names "
                         f"({c.batch_loss_metric}, {c.val_metric}, {c.train_metric}); make it match your losses.")
    loss = {"chart": c.loss_chart, "metric": watched[0]}
    acc = {"chart": "accuracy", "metric": "val_acc"}  # not a loss: never this alert's (unless it matches)
    other = [] if re.fullmatch(c.spike_metrics, acc["metric"]) else [acc]
    k, floor = c.grad_explode_factor, c.grad_min_steps
    bad_norm = f"{k * 2:g}"
    return {
        # bad: unrecovered from minute 30; ok: unrecovered for one scrape, then back; a non-loss line stays 1
        "LossSpikeUnrecovered": case(
            gated("bad", "ok")
            + [series("curvewatch_spike_unrecovered", f"0x29 1x{total}", **run, **loss, run_id=r)
               for r in ("bad", "done")]
            + [series("curvewatch_spike_unrecovered", f"0x29 1 0x{total}", **run, **loss, run_id="ok"),
               *(series("curvewatch_spike_unrecovered", f"1x{total}", **run, **o, run_id="ok") for o in other)],
            {**run, **loss, "run_id": "bad"}),
        # bad: the norm jumps to 2k x its median at minute 30; ok: 0.8k x; young: 2k x before grad_min_steps
        "GradientExploding": case(
            gated("bad", "ok", "young")
            + [series("curvewatch_grad_norm_median", f"1x{total}", **run, run_id=r)
               for r in ("bad", "ok", "young", "done")]
            + [series("curvewatch_grad_norm", f"1x29 {bad_norm}x{total}", **run, run_id=r)
               for r in ("bad", "done", "young")]
            + [series("curvewatch_grad_norm", f"{k * 0.8:g}x{total}", **run, run_id="ok")]
            + [series("curvewatch_grad_norm_steps_total", f"{floor}+10x{total}", **run, run_id=r)
               for r in ("bad", "ok", "done")]
            + [series("curvewatch_grad_norm_steps_total", f"0x{total}", **run, run_id="young")],
            {**run, "run_id": "bad"}, latest=30, value=lambda t: f"{k * 2:.3g}"),
    }
