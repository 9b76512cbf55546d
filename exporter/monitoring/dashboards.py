"""The three Grafana dashboards, as code: Overview (all runs), Run detail (``$run_id``), Compare runs.

Each dashboard is a ``grafana-foundation-sdk`` builder rendered to the JSON Grafana 11.6 stores
(schemaVersion 41); every PromQL expression comes from :class:`~exporter.monitoring.promql.Queries`.
"""

from __future__ import annotations

from typing import Any

from curvewatch.monitoring._panels import Panels, dashboard_json
from curvewatch.monitoring.alerts import ALERT_PREFIX
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.promql import Queries, eq
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = ["DASHBOARD_FILES", "dashboards"]

DASHBOARD_FILES = {
    "curvewatch-overview": "grafana/dashboards/curvewatch-overview.json",
    "curvewatch-run-detail": "grafana/dashboards/curvewatch-run-detail.json",
    "curvewatch-compare-runs": "grafana/dashboards/curvewatch-compare-runs.json",
}
_TAGS = ["curvewatch"]
_RUN = "run_id, rank"


def _board(config: MonitoringConfig, uid: str, title: str, description: str) -> dash_b.Dashboard:
    return (dash_b.Dashboard(title).uid(uid).description(description).tags(_TAGS).editable()
            .refresh(config.dashboard_refresh).time(config.dashboard_time_from, "now").timezone("browser")
            .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
            .link(dash_b.DashboardLink("curvewatch dashboards").type(dash_m.DashboardLinkType.DASHBOARDS)
                  .tags(_TAGS).as_dropdown(True).include_vars(False).keep_time(True)))


def _run_variable(config: MonitoringConfig, name: str, *, multi: bool) -> dash_b.QueryVariable:
    q = Queries(config)
    var = (dash_b.QueryVariable(name).label("Run" + ("s" if multi else "")).datasource(Panels(config).datasource)
           .query(f"label_values({q.metric('curvewatch_run_info')}, run_id)")
           .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dash_m.VariableSort.NATURAL_ASC)
           .description("The run_id label of the runs Prometheus has seen in the time range."))
    return var.multi(True).include_all(True).all_value(".*") if multi else var


def overview(config: MonitoringConfig) -> dict[str, Any]:
    q, p, c = Queries(config), Panels(config), config
    val = eq("metric", c.val_metric)
    alerts = f'ALERTS{{alertstate="firing", alertname=~"{ALERT_PREFIX}.*"}}'
    board = _board(c, "curvewatch-overview", "curvewatch / Overview",
                   "Every run Prometheus scrapes: state, progress, speed, best validation loss, alerts.")
    board.with_panel(p.stat("Runs running", "Runs whose curvewatch_run_state is running.", "short",
                            p.query(f"count({q.state_code} == 1) or vector(0)"), w=6))
    board.with_panel(p.stat("Runs failed", "Runs whose curvewatch_run_state is failed.", "short",
                            p.query(f"count({q.state_code} == 3) or vector(0)"), steps=[(None, "green"), (1, "red")],
                            w=6))
    board.with_panel(p.stat("Alerts firing", f"curvewatch alerts ({ALERT_PREFIX}…) firing now in Prometheus.",
                            "short", p.query(f"count({alerts}) or vector(0)"), steps=[(None, "green"), (1, "red")],
                            w=6))
    nonfinite = f"sum(increase({q.metric('curvewatch_nonfinite_total')}[1h])) or vector(0)"
    board.with_panel(p.stat("Non-finite values (1h)", "NaN/inf values logged by all runs in the last hour.",
                            "short", p.query(nonfinite), steps=[(None, "green"), (1, "red")], w=6))
    columns = {"B": "Step", "C": "Steps/s", "D": f"Latest {c.val_metric}", "E": f"Best {c.val_metric}",
               "F": "Steps since best", "G": "Seconds since last step"}
    exprs = {"A": f"max by ({_RUN}, state) ({q.metric('curvewatch_run_state')} == 1)",
             "B": q.metric("curvewatch_step"), "C": q.steps_per_second,
             "D": q.metric("curvewatch_value", val), "E": q.metric("curvewatch_best_value", val),
             "F": q.metric("curvewatch_steps_since_best", val), "G": q.heartbeat_age}
    board.with_panel(p.table(
        "Runs", "One row per run and rank: its state and latest numbers (instant queries merged on run_id and rank).",
        [p.query(e if ref == "A" else f"max by ({_RUN}) ({e})", ref=ref, table=True) for ref, e in exprs.items()],
        columns, hidden=["Value #A"]))
    board.with_panel(p.timeseries(f"{c.val_metric} by run", f"{c.val_metric} of every run (log scale).", "short",
                                  [p.query(q.metric("curvewatch_value", val), "{{run_id}} rank {{rank}}")], log=True))
    board.with_panel(p.timeseries("Steps per second by run", f"rate(curvewatch_steps_total[{c.rate_window}]).", "ops",
                                  [p.query(q.steps_per_second, "{{run_id}} rank {{rank}}")]))
    return dashboard_json(board)


def run_detail(config: MonitoringConfig) -> dict[str, Any]:
    q, p, c = Queries(config), Panels(config), config
    run = 'run_id="$run_id"'
    val = eq("metric", c.val_metric)
    board = _board(c, "curvewatch-run-detail", "curvewatch / Run detail",
                   "One run: losses with their window band and best value, metrics, learning rate, speed, NaN/inf.")
    board.with_variable(_run_variable(c, "run_id", multi=False))
    stats = [
        ("State", "curvewatch_run_state as text.", "none", f"{q.state_code}{{{run}}}", None),
        ("Step", "Latest global step.", "short", q.metric("curvewatch_step", run), None),
        ("Epoch", "Latest epoch.", "short", q.metric("curvewatch_epoch", run), None),
        ("Steps/s", f"Steps per second over {c.rate_window}.", "ops", f"{q.steps_per_second}{{{run}}}", None),
        (f"Best {c.val_metric}", "Best value so far.", "short", q.metric("curvewatch_best_value", run, val), None),
        ("Steps since best", f"Steps since the best {c.val_metric}; the alert fires above {c.no_improvement_steps}.",
         "short", q.metric("curvewatch_steps_since_best", run, val),
         [(None, "green"), (c.no_improvement_steps / 2, "orange"), (c.no_improvement_steps, "red")]),
        ("Since last step", f"Seconds since the last logged step; stalled above {c.stall_seconds:g}s.", "s",
         f"{q.heartbeat_age}{{{run}}}", [(None, "green"), (c.stall_seconds, "red")]),
        ("Non-finite values", "NaN/inf values logged, all lines.", "short",
         f"sum({q.metric('curvewatch_nonfinite_total', run)})", [(None, "green"), (1, "red")]),
    ]
    for title, desc, unit, expr, steps in stats:
        mappings = p.state_mappings() if title == "State" else None
        board.with_panel(p.stat(title, desc, unit, p.query(expr), steps=steps, mappings=mappings))
    loss = eq("chart", c.loss_chart)
    band = eq("metric", c.batch_loss_metric)
    board.with_panel(p.timeseries(
        "Loss: train vs validation",
        f"Lines of the {c.loss_chart} chart; the dotted lines bound {c.batch_loss_metric}'s min/max over the "
        f"exporter's trailing window; the dashed line is the best {c.val_metric}.", "short",
        [p.query(q.metric("curvewatch_value", run, loss), "{{metric}} rank {{rank}}", "A"),
         p.query(q.metric("curvewatch_window_min", run, loss, band), "window min", "B"),
         p.query(q.metric("curvewatch_window_max", run, loss, band), "window max", "C"),
         p.query(q.metric("curvewatch_best_value", run, val), "best", "D")],
        log=True, w=24, h=10,
        overrides=[p.override(["window min", "window max"], custom__lineStyle={"fill": "dot", "dash": [0, 6]},
                              color={"mode": "fixed", "fixedColor": "light-blue"}),
                   p.override(["best"], custom__lineStyle={"fill": "dash", "dash": [10, 10]},
                              color={"mode": "fixed", "fixedColor": "green"})]))
    charts = [("Validation errors", "errors", "short", False), ("MAPE", "mape", "percent", False),
              ("R²", "r2", "none", False), ("Learning rate", c.lr_metric, "short", True)]
    for title, chart, unit, log in charts:
        board.with_panel(p.timeseries(title, f"Lines of the {chart!r} chart.", unit,
                                      [p.query(q.metric("curvewatch_value", run, eq("chart", chart)),
                                               "{{metric}} rank {{rank}}")], log=log))
    board.with_panel(p.timeseries(
        "Throughput", f"Steps/s over {c.rate_window} and over {c.baseline_window}; the alert fires under "
        f"{c.throughput_fraction:g}× the latter.", "ops",
        [p.query(f"{q.steps_per_second}{{{run}}}", f"rate {c.rate_window}", "A"),
         p.query(f"{q.steps_per_second_baseline}{{{run}}}", f"rate {c.baseline_window}", "B")]))
    board.with_panel(p.timeseries(
        f"{c.val_metric} − {c.train_metric}", "Generalisation gap; growing while training loss falls is overfitting.",
        "short", [p.query(f"{q.val_train_gap}{{{run}}}", "rank {{rank}}")]))
    board.with_panel(p.timeseries(
        "Non-finite values", "NaN/inf values logged per minute, by line.", "short",
        [p.query(f"increase({q.metric('curvewatch_nonfinite_total', run)}[1m])", "{{metric}} rank {{rank}}")],
        steps=[(None, "green"), (1, "red")]))
    board.with_panel(p.timeseries(
        "Best value relative", f"Each tracked line divided by its best; the divergence alert fires above "
        f"{c.divergence_factor:g}.", "short", [p.query(f"{q.over_best}{{{run}}}", "{{metric}} rank {{rank}}")],
        steps=[(None, "green"), (c.divergence_factor, "red")]))
    return dashboard_json(board)


def compare_runs(config: MonitoringConfig) -> dict[str, Any]:
    q, p, c = Queries(config), Panels(config), config
    runs = 'run_id=~"$run_ids"'
    val = eq("metric", c.val_metric)
    legend = "{{run_id}} rank {{rank}}"
    board = _board(c, "curvewatch-compare-runs", "curvewatch / Compare runs",
                   "Several runs side by side: validation curves, distance to their best, speed.")
    board.with_variable(_run_variable(c, "run_ids", multi=True))
    board.with_panel(p.timeseries(f"{c.val_metric} by run", "Validation loss of the selected runs (log scale).",
                                  "short", [p.query(q.metric("curvewatch_value", runs, val), legend)], log=True, w=24,
                                  h=10))
    board.with_panel(p.timeseries(f"{c.train_metric} by run", "Epoch-mean training loss (log scale).", "short",
                                  [p.query(q.metric("curvewatch_value", runs, eq("metric", c.train_metric)), legend)],
                                  log=True))
    board.with_panel(p.timeseries(f"{c.val_metric} / best", "1 at a new best; the divergence alert fires above "
                                  f"{c.divergence_factor:g}.", "short",
                                  [p.query(f"{q.over_best}{{{runs}, {val}}}", legend)],
                                  steps=[(None, "green"), (c.divergence_factor, "red")]))
    board.with_panel(p.stat(f"Best {c.val_metric}", "Best validation loss of each selected run.", "short",
                            p.query(q.metric("curvewatch_best_value", runs, val), legend), w=12))
    board.with_panel(p.timeseries("Steps per second", f"Over {c.rate_window}.", "ops",
                                  [p.query(f"{q.steps_per_second}{{{runs}}}", legend)]))
    return dashboard_json(board)


def dashboards(config: MonitoringConfig) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON (as a dict) of every dashboard."""
    return {"curvewatch-overview": overview(config), "curvewatch-run-detail": run_detail(config),
            "curvewatch-compare-runs": compare_runs(config)}
