"""The live dashboards, as code: Overview (all runs), Run detail (``$run_id``), Compare runs (``$run_ids``).

They work for any run in any Grafana: the Prometheus is the ``${datasource}`` variable, the job the
``$job`` variable, runs are filtered by experiment, model type, host and rank (``_variables.py``), and
the curves are panels repeated per ``chart`` (Run detail) or ``metric`` (Compare runs), so a user's
own metric names appear without editing. Each repeated row holds the curve against time and the same
curve against step (an XY chart). The best metric and mode come from ``curvewatch_best_value``'s
labels. Stats are instant queries; the costly ones read recording rules (``promql.py``). Rendered to
the JSON Grafana 11.6 stores (schemaVersion 41) by ``grafana-foundation-sdk``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from curvewatch.monitoring._panels import Panels, dashboard_json
from curvewatch.monitoring._variables import Selectors
from curvewatch.monitoring.alerts import ALERT_PREFIX
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.promql import Queries, eq
from curvewatch.monitoring.signal_alerts import spike_annotation
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = ["DASHBOARDS", "DASHBOARD_FILES", "PROMETHEUS_DASHBOARD_FILES", "DashboardSpec", "dashboards"]

_TAGS = ["curvewatch"]
_RUN = "run_id, rank"
_LEGEND = "{{run_id}} rank {{rank}}"


@dataclass(frozen=True)
class DashboardSpec:
    """One generated dashboard: its uid, the file it is written to and the function that builds it.

    ``prometheus``: it reads the live Prometheus (``${datasource}``, ``$job``): grafana_files writes an import
    copy asking for a Prometheus, and tests/test_monitoring_grafana.py checks its queries and variables.
    A dashboard on another datasource (the registry's PostgreSQL) sets it False and brings its own checks.
    """

    uid: str
    file: str
    build: Callable[[MonitoringConfig], dict[str, Any]]
    prometheus: bool = True


def _board(config: MonitoringConfig, uid: str, title: str, description: str) -> dash_b.Dashboard:
    refresh = config.dashboard_refresh
    return (dash_b.Dashboard(title).uid(uid).description(description).tags(_TAGS).editable()
            .refresh(refresh).time(config.dashboard_time_from, "now").timezone("browser")
            .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
            .timepicker(dash_b.TimePicker().refresh_intervals([refresh, "1m", "5m", "15m"]))
            .link(dash_b.DashboardLink("curvewatch dashboards").type(dash_m.DashboardLinkType.DASHBOARDS)
                  .tags(_TAGS).as_dropdown(True).include_vars(False).keep_time(True)))


def _with_variables(board: dash_b.Dashboard, variables: list) -> dash_b.Dashboard:
    for variable in variables:
        board = board.with_variable(variable)
    return board


def _run_detail_url() -> str:
    return ("/d/curvewatch-run-detail/curvewatch-run-detail?var-run_id=${__data.fields.run_id}"
            "&${datasource:queryparam}&${job:queryparam}&${__url_time_range}")


def overview(config: MonitoringConfig) -> dict[str, Any]:
    q, p, s, c = Queries(config), Panels(config), Selectors(config), config
    f = s.filtered
    board = _with_variables(_board(c, "curvewatch-overview", "curvewatch / Overview",
                                   "Every run Prometheus scrapes: state, progress, speed, best values, alerts."),
                            s.standard_variables())
    failed = s.series("curvewatch_run_state", eq("state", "failed"))

    def ended(expr: str) -> str:
        return s.filtered(expr, seen_within=c.vanished_window)

    stats = [
        ("Runs running", "Runs whose curvewatch_run_state is running.", f"count({f(f'{q.state_code} == 1')})",
         None),
        ("Runs failed", f"Runs that ended failed, or vanished while running (crash, OOM kill, node loss), in the "
         f"last {c.vanished_window}.",
         f"count(\n{ended(f'max by ({s.on_run}) (last_over_time({failed}[{c.vanished_window}])) == 1')}\n"
         f"or\n{ended(q.vanished)}\n)", [(None, "green"), (1, "red")]),
        ("Alerts firing", f"curvewatch alerts ({ALERT_PREFIX}…) firing now in Prometheus.",
         f'count(ALERTS{{alertstate="firing", alertname=~"{ALERT_PREFIX}.*", job=~"$job"}})',
         [(None, "green"), (1, "red")]),
        (f"Non-finite values ({c.nonfinite_count_window})",
         f"NaN/inf values logged by the selected runs in the last {c.nonfinite_count_window} (a recording rule).",
         f"sum({f(q.nonfinite_recent)})", [(None, "green"), (1, "red")]),
    ]
    for title, desc, expr, steps in stats:
        board = board.with_panel(p.stat(title, desc, "short", p.query(f"{expr} or vector(0)", instant=True),
                                        steps=steps, w=6))
    columns = {"B": "Step", "C": "Steps/s", "D": "Best", "E": "Steps since best", "F": "Seconds since last step"}
    exprs = {"A": f"{s.series('curvewatch_run_state')} == 1", "I": s.series("curvewatch_run_info"),
             "B": s.series("curvewatch_step"), "C": q.steps_per_second,
             "D": s.series("curvewatch_best_value"), "E": s.series("curvewatch_steps_since_best"),
             "F": q.heartbeat_age}
    by = {"A": f"{_RUN}, state", "I": f"{_RUN}, model_type, experiment, host", "D": f"{_RUN}, metric, mode",
          "E": f"{_RUN}, metric, mode"}
    targets = [p.query(f"max by ({by.get(ref, _RUN)}) (\n{f(e)}\n)", ref=ref, table=True) for ref, e in exprs.items()]
    board = board.with_panel(p.table(
        "Runs", "One row per run, rank and tracked metric: state, metadata, latest numbers, best value and its "
        "metric and mode (instant queries merged on run_id and rank). Click a row for its Run detail.",
        targets, columns, hidden=["Value #A", "Value #I"],
        links=[p.link("Run detail of ${__data.fields.run_id}", _run_detail_url())]))
    board = board.with_panel(p.timeseries(
        "Best value by run", "curvewatch_best_value of every tracked metric, labelled with its metric and mode.",
        "short", [p.query(f(s.series("curvewatch_best_value")), "{{run_id}} {{metric}} ({{mode}})")]))
    board = board.with_panel(p.timeseries(
        "Steps per second by run", f"rate(curvewatch_steps_total[{c.rate_window}]) (a recording rule).", "ops",
        [p.query(f(q.steps_per_second), _LEGEND)]))
    return dashboard_json(board)


def _step_query(p: Panels, s: Selectors, lines: str) -> Any:
    """Each line's step at each time: curvewatch_step copied onto the labels of the ``lines`` series."""
    return p.query(f"{s.series('curvewatch_step')}\n* on ({s.on_run}) group_right ()\n(0 * (\n{lines}\n) + 1)",
                   ref="B", range_table=True)


def run_detail(config: MonitoringConfig) -> dict[str, Any]:
    q, p, s, c = Queries(config), Panels(config), Selectors(config), config
    run = 'run_id="$run_id"'

    def f(expr: str) -> str:
        return s.filtered(expr, run)

    board = _board(c, "curvewatch-run-detail", "curvewatch / Run detail",
                   "One run: state, metadata, best values, speed, NaN/inf, then every chart against time and step.")
    board = _with_variables(board, [*s.standard_variables(), s.run_variable("run_id", multi=False),
                                    s.line_variable("chart", "chart", run)])
    board = board.annotation(s.alert_annotation(run)).annotation(spike_annotation(s, run))
    stats = [
        ("State", "curvewatch_run_state as text.", "none", q.state_code, None),
        ("Step", "Latest global step.", "short", s.series("curvewatch_step"), None),
        ("Epoch", "Latest epoch.", "short", s.series("curvewatch_epoch"), None),
        ("Steps/s", f"Steps per second over {c.rate_window}.", "ops", q.steps_per_second, None),
        ("Since last step", f"Seconds since the last logged step; stalled above {c.stall_seconds:g}s.", "s",
         q.heartbeat_age, [(None, "green"), (c.stall_seconds, "red")]),
        ("Non-finite values", "NaN/inf values logged, all lines.", "short",
         f"sum by ({s.on_run}) ({s.series('curvewatch_nonfinite_total')})", [(None, "green"), (1, "red")]),
        ("Started", "When the run started (curvewatch_run_start_time_seconds).", "dateTimeFromNow",
         f"1000 * {s.series('curvewatch_run_start_time_seconds')}", None),
    ]
    for title, desc, unit, expr, steps in stats:
        mappings = p.state_mappings() if title == "State" else None
        board = board.with_panel(p.stat(title, desc, unit, p.query(f(expr), "rank {{rank}}", instant=True),
                                        steps=steps, mappings=mappings, w=3 if title != "Started" else 6))
    board = board.with_panel(p.table(
        "Run metadata", "curvewatch_run_info's labels: model type, mode, scope, version, experiment, host, and "
        "the instance Prometheus scrapes.", [p.query(f(s.series("curvewatch_run_info")), ref="A", table=True)],
        {}, hidden=["Value #A", "Value", "__name__"], w=12, h=5))
    board = board.with_panel(p.stat(
        "Best values", "Best value so far of each tracked metric; the title says the metric and its mode.", "short",
        p.query(f(s.series("curvewatch_best_value")), "{{metric}} ({{mode}})", instant=True), w=6, h=5))
    board = board.with_panel(p.stat(
        "Steps since best", f"Steps since each tracked metric's best; the alert fires above "
        f"{c.no_improvement_steps} for {c.val_metric}.", "short",
        p.query(f(s.series("curvewatch_steps_since_best")), "{{metric}}", instant=True),
        steps=[(None, "green"), (c.no_improvement_steps / 2, "orange"), (c.no_improvement_steps, "red")], w=6, h=5))
    board = board.with_panel(p.timeseries(
        "Throughput", f"Steps/s over {c.rate_window}, and its highest value within {c.baseline_window}: the alert "
        f"fires under {c.throughput_fraction:g}× the latter.", "ops",
        [p.query(f(q.steps_per_second), f"rate {c.rate_window}", "A"),
         p.query(f(f"max_over_time({q.steps_per_second}[{c.baseline_window}])"), "baseline", "B")], w=8))
    board = board.with_panel(p.timeseries(
        "Non-finite values", "NaN/inf values logged per rate interval, by line.", "short",
        [p.query(f(f"increase({s.series('curvewatch_nonfinite_total')}[$__rate_interval])"), "{{metric}}")],
        steps=[(None, "green"), (1, "red")], w=8))
    board = board.with_panel(p.timeseries(
        "Value relative to best", f"Each line of a min-mode tracked metric divided by its best; the divergence "
        f"alert fires above {c.divergence_factor:g}.", "short", [p.query(f(q.over_best), "{{metric}}")],
        steps=[(None, "green"), (c.divergence_factor, "red")], w=8))
    lines = s.series("curvewatch_value", run, 'chart="$chart"')
    board = board.with_row(dash_b.Row("Chart $chart").repeat("chart"))
    board = board.with_panel(p.timeseries(
        "$chart", "Every line of the chart; the window min/max bound each line between scrapes (the exporter's "
        "trailing window); best marks the tracked metric's best value.", "short",
        [p.query(f(lines), "{{metric}}", "A"),
         p.query(f(s.series("curvewatch_window_min", run, 'chart="$chart"')), "{{metric}} window min", "B"),
         p.query(f(s.series("curvewatch_window_max", run, 'chart="$chart"')), "{{metric}} window max", "C"),
         p.query(f(f"{s.series('curvewatch_best_value', run)}\nand on ({s.on_run}, metric) {lines}"),
                 "best {{metric}}", "D")]))
    board = board.with_panel(p.xy(
        "$chart against step", "The chart's lines against the run's step (curvewatch_value joined with "
        "curvewatch_step at each scrape).", p.query(f(lines), ref="A", range_table=True),
        _step_query(p, s, f(lines)), ["metric", "rank"]))
    return dashboard_json(board)


def compare_runs(config: MonitoringConfig) -> dict[str, Any]:
    q, p, s, c = Queries(config), Panels(config), Selectors(config), config
    runs = 'run_id=~"$run_ids"'

    def f(expr: str) -> str:
        return s.filtered(expr, runs)

    board = _board(c, "curvewatch-compare-runs", "curvewatch / Compare runs",
                   "Several runs side by side: every metric against time and step, best values, speed.")
    board = _with_variables(board, [*s.standard_variables(), s.run_variable("run_ids", multi=True),
                                    s.line_variable("metric", "metric", runs)])
    board = board.annotation(s.alert_annotation(runs))
    board = board.with_panel(p.stat(
        "Best values", "Best value of each tracked metric of each selected run.", "short",
        p.query(f(s.series("curvewatch_best_value")), "{{run_id}} {{metric}} ({{mode}})", instant=True), w=12))
    board = board.with_panel(p.timeseries("Steps per second", f"Over {c.rate_window}.", "ops",
                                          [p.query(f(q.steps_per_second), _LEGEND)]))
    board = board.with_panel(p.timeseries(
        "Value relative to best", f"1 at a new best; the divergence alert fires above {c.divergence_factor:g}.",
        "short", [p.query(f(q.over_best), "{{run_id}} {{metric}}")],
        steps=[(None, "green"), (c.divergence_factor, "red")], w=24))
    lines = s.series("curvewatch_value", runs, 'metric="$metric"')
    board = board.with_row(dash_b.Row("$metric").repeat("metric"))
    board = board.with_panel(p.timeseries("$metric by run", "The metric of every selected run.", "short",
                                          [p.query(f(lines), _LEGEND)]))
    board = board.with_panel(p.xy(
        "$metric against step", "The metric of every selected run against that run's step.",
        p.query(f(lines), ref="A", range_table=True), _step_query(p, s, f(lines)), ["run_id", "rank"]))
    return dashboard_json(board)


# Every generated dashboard. To add one, append a DashboardSpec here (e.g. the archive dashboards:
# `*archive_dashboards.DASHBOARDS`); grafana_files writes its file and its import copy, and the
# provisioning picks it up from grafana/dashboards/.
DASHBOARDS: list[DashboardSpec] = [
    DashboardSpec("curvewatch-overview", "grafana/dashboards/curvewatch-overview.json", overview),
    DashboardSpec("curvewatch-run-detail", "grafana/dashboards/curvewatch-run-detail.json", run_detail),
    DashboardSpec("curvewatch-compare-runs", "grafana/dashboards/curvewatch-compare-runs.json", compare_runs),
]
DASHBOARD_FILES = {spec.uid: spec.file for spec in DASHBOARDS}
PROMETHEUS_DASHBOARD_FILES = {spec.uid: spec.file for spec in DASHBOARDS if spec.prometheus}


def dashboards(config: MonitoringConfig) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON (as a dict) of every dashboard."""
    return {spec.uid: spec.build(config) for spec in DASHBOARDS}
