"""``promtool test rules`` cases for every alert, generated with the alerts from the same config.

Each alert gets one test group with a degrading series (``run_id="bad"``) beside healthy ones
(``run_id="ok"``, and ``run_id="done"``: a finished run with the same bad values where the alert is
gated on the run running). Some alerts get more groups for a shape of input their main group does
not cover (named ``<alert> (<what>)``): a NaN counter already above 0 at its first scrape, a run that
hangs before its first step. Two evaluations per group:

- one minute before the ``for:`` window can have elapsed: nothing fires (the bad series is pending);
- after it: exactly the bad series fires, with its exact labels and rendered annotations.

The expected description is the template rendered here with the series' labels and the value the
series has at that time, so a wrong expression, label set or template fails in promtool.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from curvewatch.monitoring._yaml import dump_yaml
from curvewatch.monitoring.alerts import ALERT_PREFIX, alerts
from curvewatch.monitoring.config import MonitoringConfig, duration_seconds
from curvewatch.monitoring.prometheus_files import ALERT_RULES_FILE, RECORDING_RULES_FILE
from curvewatch.monitoring.signal_alerts import signal_cases
from curvewatch.prom._names import SD_RANK_LABEL, SD_RUN_ID_LABEL

__all__ = ["RULE_TESTS_FILE", "render_template", "rule_tests"]

RULE_TESTS_FILE = "prometheus/tests/curvewatch.alerts.test.yml"
_INSTANCE = "10.0.0.1:9108"
_TAIL_MINUTES = 5  # series go on this long after the last evaluation


@dataclass
class _Case:
    """Input series of one alert and when its condition becomes true (minutes from 0)."""

    series: list[tuple[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # of the firing series, severity excluded
    earliest: int = 30  # first minute the condition can hold
    latest: int = 30  # minute by which it surely holds (recording rules lag one evaluation)
    value: Any = None  # function(minute) -> the rendered {{ $value | printf }} text
    still_firing_at: tuple[int, ...] = ()  # later minutes at which it must still fire


def render_template(template: str, labels: dict[str, str], value_text: str | None) -> str:
    """Render the subset of Go templates the alerts use: ``$labels.NAME`` and ``$value | printf``."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    if value_text is not None:
        text = re.sub(r"\{\{ \$value \| printf \"[^\"]+\" \}\}", value_text, text)
    return text


def _series(name: str, values: str, **labels: str) -> tuple[str, str]:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{body}}}", values


def _expand(start: float, step: float, count: int) -> list[float]:
    """The values of promtool's ``start+stepxcount`` (repeated addition, as promtool computes them)."""
    values = [start]
    for _ in range(count):
        values.append(values[-1] + step)
    return values


def _overfitting(c: MonitoringConfig, total: int, run: dict[str, str], gated: Any) -> _Case:
    """Bad: validation loss jumps 2x ``overfitting_rise`` above its window minimum and keeps rising while
    train falls. Healthy: a falling one, and a noisy plateau drifting up by less than the threshold (a
    positive trend that a threshold-free rule would flag)."""
    loss = {"chart": c.loss_chart, "metric": c.val_metric}
    window = max(1, math.ceil(duration_seconds(c.trend_window) / 60))  # promtool series step by a minute
    jump, slope = float(f"{0.4 * (1 + 2 * c.overfitting_rise):.4g}"), float(f"{0.8 * c.overfitting_rise / window:.3g}")
    bad = [0.4] * 30 + _expand(jump, slope, total)
    noise, drift = 0.08 * c.overfitting_rise, 0.12 * c.overfitting_rise / window
    plateau = " ".join(f"{0.4 + drift * i + (noise if i % 2 else -noise):.5f}" for i in range(total + 1))

    def ratio(t: int) -> str:
        return f"{bad[t] / min(bad[max(0, t - window):t + 1]):.2f}"

    return _Case(
        gated("bad", "ok", "noisy")
        + [_series("curvewatch_value", f"1-0.005x{total}", **run, chart=c.loss_chart, metric=c.train_metric,
                   run_id=r) for r in ("bad", "ok", "noisy", "done")]
        + [_series("curvewatch_value", f"0.4x29 {jump:g}+{slope:g}x{total}", **run, **loss, run_id=r)
           for r in ("bad", "done")]
        + [_series("curvewatch_value", f"0.4-0.001x{total}", **run, **loss, run_id="ok"),
           _series("curvewatch_value", plateau, **run, **loss, run_id="noisy")],
        {**run, **loss, "run_id": "bad"}, latest=31, value=ratio)


def _cases(c: MonitoringConfig, total: int) -> dict[str, _Case]:
    """Test groups by ``<alert name without prefix>`` or ``<alert name without prefix> (<what>)``."""
    run = {"job": c.trainer_job, "instance": _INSTANCE, "rank": "0"}
    loss = {"chart": c.loss_chart, "metric": c.val_metric}
    best = {"metric": c.val_metric, "mode": "min"}
    acc = {"metric": "val_acc", "mode": "max"}

    def state(run_id: str, current: str = "running") -> list[tuple[str, str]]:
        return [_series("curvewatch_run_state", f"{int(s == current)}x{total}", **run, run_id=run_id, state=s)
                for s in ("running", "finished")]

    def gated(*runs: str) -> list[tuple[str, str]]:
        return [s for r in runs for s in state(r)] + state("done", "finished")

    def started(*runs: str, at: int = 0) -> list[tuple[str, str]]:
        return [_series("curvewatch_run_start_time_seconds", f"{at}x{total}", **run, run_id=r) for r in runs]

    def vanishing(run_id: str, last: str, minutes: int = 30, instance: str = _INSTANCE) -> list[tuple[str, str]]:
        """A run scraped ``minutes`` minutes in state ``last`` at the end, then gone (stale markers)."""
        labels = {**run, "instance": instance}
        return [_series("curvewatch_run_state", f"{int(s == last)}x{minutes - 1} stale", **labels, run_id=run_id,
                        state=s) for s in ("running", "finished", "failed")]

    def failed_runs() -> list[tuple[str, str]]:
        """``bad`` runs, then fails at minute 30 (scraped failed for 3 minutes, then gone); ``done`` finishes
        then; ``ok`` keeps running."""
        return ([_series("curvewatch_run_state", f"{int(s == 'running')}x29 {int(s == end)}x2 stale", **run,
                         run_id=r, state=s) for s in ("running", "finished", "failed")
                 for r, end in (("bad", "failed"), ("done", "finished"))]
                + [_series("curvewatch_run_state", f"{int(s == 'running')}x{total}", **run, run_id="ok", state=s)
                   for s in ("running", "finished", "failed")])

    n, a = c.no_improvement_steps, max(1, c.no_improvement_steps // 100)
    rate_minutes = math.ceil(duration_seconds(c.rate_window) / 60)
    # A young run (10 minutes at 50 steps/s) slows to 10 steps/s: the rate over rate_window passes under
    # throughput_fraction x 50 this many minutes after the slowdown.
    young_cross = 10 + math.floor(rate_minutes * (1 - c.throughput_fraction) * 50 / 40) + 1
    # It must still fire an hour later, or just before its fast start leaves a shorter baseline_window.
    baseline_minutes = math.ceil(duration_seconds(c.baseline_window) / 60)
    stall_at = int(29 + c.stall_seconds // 60) + 1
    slow_from = 60 + math.ceil(duration_seconds(c.rate_window) / 60) + 1
    bad_div = f"{c.divergence_factor * 0.1 + 0.1:g}"
    return {
        "NonFiniteValues": _Case(
            [_series("curvewatch_nonfinite_total", f"0x29 1+1x{total}", **run, **loss, run_id="bad"),
             _series("curvewatch_nonfinite_total", f"0x{total}", **run, **loss, run_id="ok")],
            {**run, **loss, "run_id": "bad"}),
        # NaN before the first scrape (or a target discovered late): increase() sees no rise.
        "NonFiniteValues (counter above 0 at its first scrape)": _Case(
            [_series("curvewatch_nonfinite_total", f"_x30 3x{total}", **run, **loss, run_id="bad"),
             _series("curvewatch_nonfinite_total", f"_x30 0x{total}", **run, **loss, run_id="ok")],
            {**run, **loss, "run_id": "bad"}),
        "LossDiverging": _Case(
            gated("bad", "ok")
            + [_series("curvewatch_value", f"0.1x29 {bad_div}x{total}", **run, **loss, run_id="bad"),
               _series("curvewatch_value", f"{bad_div}x{total}", **run, **loss, run_id="done"),
               _series("curvewatch_value", f"{c.divergence_factor * 0.1 - 0.05:g}x{total}", **run, **loss,
                       run_id="ok")]
            + [_series("curvewatch_best_value", f"0.1x{total}", **run, **best, run_id=r)
               for r in ("bad", "ok", "done")],
            {**run, "metric": c.val_metric, "run_id": "bad"}, latest=31,
            value=lambda t: f"{(c.divergence_factor * 0.1 + 0.1) / 0.1:.1f}"),
        "Overfitting": _overfitting(c, total, run, gated),
        # Any tracked metric and mode: here a user's accuracy (max) beside the validation loss (min).
        "NoImprovement": _Case(
            gated("bad", "ok")
            + [_series("curvewatch_steps_since_best", f"0+{a}x29 {n + a}+{a}x{total}", **run, **acc, run_id=r)
               for r in ("bad", "done")]
            + [_series("curvewatch_steps_since_best", f"0+{n // 200}x{total}", **run, **b, run_id=r)
               for r, b in (("bad", best), ("ok", best), ("ok", acc))],
            {**run, **acc, "run_id": "bad"}, value=lambda t: f"{n + a + a * (t - 30):.0f}"),
        # Every run started at 0 s: a heartbeat series, old or fresh, takes precedence over the start time.
        "TrainingStalled": _Case(
            gated("bad", "ok") + started("bad", "ok", "done")
            + [_series("curvewatch_last_step_timestamp_seconds", f"0+60x29 1740x{total}", **run, run_id=r)
               for r in ("bad", "done")]
            + [_series("curvewatch_last_step_timestamp_seconds", f"0+60x{total}", **run, run_id="ok")],
            {**run, "run_id": "bad"}, earliest=stall_at, latest=stall_at, value=lambda t: f"{t * 60 - 1740:.0f}"),
        # Started at minute 29 and hangs before its first step: no heartbeat series, only the start time.
        "TrainingStalled (hangs before its first step)": _Case(
            gated("bad", "ok") + started("bad", "ok", "done", at=1740)
            + [_series("curvewatch_last_step_timestamp_seconds", f"_x30 1800+60x{total}", **run, run_id="ok")],
            {**run, "run_id": "bad"}, earliest=stall_at, latest=stall_at, value=lambda t: f"{t * 60 - 1740:.0f}"),
        "ThroughputDropped": _Case(
            gated("bad", "ok")
            + [_series("curvewatch_steps_total", f"0+60x59 3540+10x{total}", **run, run_id=r) for r in ("bad", "done")]
            + [_series("curvewatch_steps_total", f"0+60x{total}", **run, run_id="ok")],
            {**run, "run_id": "bad"}, earliest=61, latest=slow_from, value=lambda t: f"{10 / 60:.2f}"),
        # Slows down 10 minutes after its start (a 1h-rate baseline divides by 3600 s and misses it), and
        # stays slow: the alert must still fire long after (a baseline that sinks with the run resolves).
        "ThroughputDropped (young run, stays firing while slow)": _Case(
            gated("bad", "ok")
            + [_series("curvewatch_steps_total", f"0+3000x10 30600+600x{total}", **run, run_id=r)
               for r in ("bad", "done")]
            + [_series("curvewatch_steps_total", f"0+3000x{total}", **run, run_id="ok")],
            {**run, "run_id": "bad"}, earliest=young_cross, latest=young_cross + 1, value=lambda t: "10.00",
            still_firing_at=(min(young_cross + 60, 10 + baseline_minutes - 1),)),
        # Failed by an exception at minute 30: scraped as failed for 3 minutes (the final grace), then gone.
        # Healthy: a run that finished, one still running.
        "RunFailed": _Case(failed_runs(), {**run, "run_id": "bad", "state": "failed"}),
        # ... and it keeps firing for failed_window after its series are gone (Alertmanager still gets it).
        "RunFailed (still firing after the run's series are gone)": _Case(
            failed_runs(), {**run, "run_id": "bad", "state": "failed"},
            still_firing_at=(30 + int(duration_seconds(c.failed_window) // 60) - 1,)),
        # Crashed at minute 30 while running: its series are gone (stale) without a final state. Healthy: a
        # run still scraped, runs gone after finishing or failing, a run resumed on another instance.
        "RunVanished": _Case(
            vanishing("bad", "running") + vanishing("done", "finished") + vanishing("failed", "failed")
            + vanishing("moved", "running")
            + [_series("curvewatch_run_state", f"{int(s == 'running')}x{total}", **run, run_id=r, state=s)
               for s in ("running", "finished", "failed") for r in ("ok",)]
            + [_series("curvewatch_run_state", f"_x29 {int(s == 'running')}x{total}",
                       **{**run, "instance": "10.0.0.3:9108"}, run_id="moved", state=s)
               for s in ("running", "finished", "failed")],
            {**run, "run_id": "bad"}),
        "TargetDown": _Case(
            [_series("up", f"1x29 0x{total}", job=c.trainer_job, instance=_INSTANCE,
                     **{SD_RUN_ID_LABEL: "bad", SD_RANK_LABEL: "0"}),
             _series("up", f"1x{total}", job=c.trainer_job, instance="10.0.0.2:9108",
                     **{SD_RUN_ID_LABEL: "ok", SD_RANK_LABEL: "0"})],
            {"job": c.trainer_job, "instance": _INSTANCE, SD_RUN_ID_LABEL: "bad", SD_RANK_LABEL: "0",
             "run_id": "bad", "rank": "0"}),
        **signal_cases(c, total, run, gated, _series, _Case),  # signal_alerts.py
    }


def rule_tests(config: MonitoringConfig) -> dict[str, Any]:
    """The promtool test file (as a dict) for ``config``'s alerts; paths relative to its folder."""
    by_name = {a.name: a for a in alerts(config)}
    longest = max(duration_seconds(a.for_) for a in by_name.values()) // 60
    total = int(61 + math.ceil(duration_seconds(config.rate_window) / 60) + longest + 2 + _TAIL_MINUTES)
    tests = []
    for short, case in _cases(config, total).items():
        alert = by_name[ALERT_PREFIX + short.split(" (")[0]]
        for_minutes = math.ceil(duration_seconds(alert.for_) / 60)
        before, after = case.earliest + for_minutes - 1, case.latest + for_minutes + 1
        annotations = alert.annotations(config)
        evaluations = [{"eval_time": f"{before}m", "alertname": alert.name, "exp_alerts": []}]
        for minute in (after, *(m for m in case.still_firing_at if m > after)):
            annotations = dict(annotations, description=render_template(
                alert.description, case.labels, case.value(minute) if case.value else None))
            evaluations.append({"eval_time": f"{minute}m", "alertname": alert.name, "exp_alerts": [
                {"exp_labels": {**case.labels, **alert.labels}, "exp_annotations": annotations}]})
        tests.append({
            "name": ALERT_PREFIX + short,
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in case.series],
            "alert_rule_test": evaluations,
        })
    missing = set(by_name) - {t["name"] for t in tests}
    if missing:
        raise RuntimeError(f"Alerts without a promtool test case: {', '.join(sorted(missing))}; add one to _cases.")
    return {
        "rule_files": [f"../rules/{p.rsplit('/', 1)[1]}" for p in (RECORDING_RULES_FILE, ALERT_RULES_FILE)],
        "evaluation_interval": "1m",
        "tests": tests,
    }


def rule_test_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of the promtool test file."""
    return {RULE_TESTS_FILE: dump_yaml(rule_tests(config))}
