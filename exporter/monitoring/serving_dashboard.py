"""The "served versions" dashboard (provisioned and importable) and the served-version promtool cases.

Per served version (``identifier``, ``model_version``, ``role``, filtered by variables): a side-by-side
table for A/B and canary decisions (traffic share, requests/s, p99, live vs validation MAE, degradation,
drift), then traffic, latency p50/p99 against the SLO, the live MAE against the archived validation MAE,
the degradation ratio against the alert's factor, MASE, PSI and KS per feature, the pending store and
the joins. It reads only ``curvewatch_serving_*`` series, so its checks are its own
(``tests/test_serving_monitoring.py``), not the training dashboards'.
"""

from __future__ import annotations

from typing import Any

from curvewatch.monitoring._panels import Panels, dashboard_json
from curvewatch.monitoring._variables import Selectors
from curvewatch.monitoring._yaml import dump_json
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.dashboards import _board
from curvewatch.monitoring.grafana_files import IMPORT_DIR, import_copy
from curvewatch.monitoring.serving_alerts import serving_alerts
from curvewatch.monitoring.serving_rule_tests import serving_rule_test_files

__all__ = ["SERVING_DASHBOARD_FILE", "SERVING_DASHBOARD_UID", "SERVING_VARIABLES", "served_versions", "serving_files"]

SERVING_DASHBOARD_UID = "curvewatch-served-versions"
SERVING_DASHBOARD_FILE = f"grafana/dashboards/{SERVING_DASHBOARD_UID}.json"
SERVING_VARIABLES = ("job", "identifier", "model_version", "role")
_BY = "identifier, model_version, role"
_LEGEND = "{{identifier}} v{{model_version}} {{role}}"


class _Serving:
    def __init__(self, config: MonitoringConfig) -> None:
        self.config, self.sel = config, Selectors(config)

    def series(self, name: str, *matchers: str) -> str:
        parts = [f'{v}=~"${v}"' for v in SERVING_VARIABLES]
        parts += [m for m in (self.config.serving_selector, *matchers) if m]
        return f"curvewatch_serving_{name}{{{', '.join(parts)}}}"

    def variables(self) -> list:
        found = [self.sel.datasource_variable()]
        for name in SERVING_VARIABLES:
            before = ", ".join(f'{v}=~"${v}"' for v in SERVING_VARIABLES[:SERVING_VARIABLES.index(name)])
            query = f"label_values(curvewatch_serving_predictions_total{{{before}}}, {name})" if before else \
                f"label_values(curvewatch_serving_predictions_total, {name})"
            found.append(self.sel._query_variable(name, name.replace("_", " ").capitalize(), query,
                                                  f"Only served versions with this {name}.", multi=True))
        return found

    def quantile(self, q: float) -> str:
        return (f"histogram_quantile({q:g}, sum by ({_BY}, le) "
                f"(rate({self.series('latency_seconds_bucket')}[$__rate_interval])))")


def served_versions(config: MonitoringConfig) -> dict[str, Any]:
    c, p, s = config, Panels(config), _Serving(config)
    board = _board(c, SERVING_DASHBOARD_UID, "curvewatch / Served versions",
                   "Archived versions in production: traffic, latency, live error against the validation error, "
                   "input drift, and two versions side by side for an A/B or canary decision.")
    for variable in s.variables():
        board = board.with_variable(variable)
    names = "|".join(a.name for a in serving_alerts(c))
    board = board.annotation(s.sel.alert_annotation(f'alertname=~"{names}", identifier=~"$identifier"'))
    rate = f"sum by ({_BY}) (rate({s.series('predictions_total')}[$__rate_interval]))"
    mae = 'metric="mae"'
    columns = {"A": "Traffic share", "B": "Requests/s", "C": "p99 latency (s)", "D": "Live MAE",
               "E": "Validation MAE", "F": "Live / validation", "G": "Max PSI", "H": "Joined in window"}
    exprs = {"A": s.series("traffic_weight"), "B": rate.replace("$__rate_interval", c.latency_window),
             "C": s.quantile(0.99).replace("$__rate_interval", c.latency_window),
             "D": s.series("live_error", mae), "E": s.series("validation_error", mae),
             "F": s.series("degradation_ratio"), "G": f"max by ({_BY}) ({s.series('feature_psi')})",
             "H": s.series("window_matched")}
    board = board.with_panel(p.table(
        "Versions side by side", "One row per served version (instant values): its traffic share, rate, p99, live "
        "and validation MAE, their ratio, its largest PSI and how many joined predictions the live error counts.",
        [p.query(f"max by ({_BY}) (\n{e}\n)", ref=ref, table=True) for ref, e in exprs.items()], columns, []))
    board = board.with_panel(p.timeseries("Traffic", "Predictions per second of each served version.", "reqps",
                                          [p.query(rate, _LEGEND)]))
    board = board.with_panel(p.timeseries(
        "Latency p50 and p99", f"Model call time per prediction; the latency alert fires above "
        f"{c.latency_slo_seconds:g}s at p99 over {c.latency_window}.", "s",
        [p.query(s.quantile(0.5), f"p50 {_LEGEND}", "A"), p.query(s.quantile(0.99), f"p99 {_LEGEND}", "B")],
        steps=[(None, "green"), (c.latency_slo_seconds, "red")]))
    board = board.with_panel(p.timeseries(
        "Live MAE and validation MAE", "The live MAE over the window of joined predictions, and the archived "
        "validation MAE of the same version (the line it should stay near).", "short",
        [p.query(s.series("live_error", mae), f"live {_LEGEND}", "A"),
         p.query(s.series("validation_error", mae), f"validation {_LEGEND}", "B")]))
    board = board.with_panel(p.timeseries(
        "Degradation (live / validation MAE)", f"1 is as good as validation; the degradation alert fires above "
        f"{c.degraded_factor:g} with at least {c.degraded_min_matched} joined predictions.", "short",
        [p.query(s.series("degradation_ratio"), _LEGEND)], steps=[(None, "green"), (c.degraded_factor, "red")]))
    board = board.with_panel(p.timeseries(
        "Live MASE", "Live MAE over the seasonal-naive forecast's MAE on the same predictions; below 1 beats "
        "last week's value.", "short", [p.query(s.series("live_error", 'metric="mase"'), _LEGEND)],
        steps=[(None, "green"), (1, "orange")]))
    board = board.with_panel(p.timeseries(
        "Drift: PSI per feature", f"Population stability index of the recent inputs against the version's training "
        f"profile; the drift alert fires above {c.drift_psi:g}.", "short",
        [p.query(s.series("feature_psi"), f"{{{{feature}}}} {_LEGEND}")],
        steps=[(None, "green"), (c.drift_psi, "red")]))
    board = board.with_panel(p.timeseries(
        "Drift: KS per feature", "Largest gap between the recent and the training cumulative shares.", "short",
        [p.query(s.series("feature_ks"), f"{{{{feature}}}} {_LEGEND}")]))
    board = board.with_panel(p.timeseries(
        "Pending predictions", "Predictions waiting for their actuals, and the store's limit.", "short",
        [p.query(s.series("pending_predictions"), f"pending {_LEGEND}", "A"),
         p.query(s.series("pending_limit"), f"limit {_LEGEND}", "B")]))
    joins = [(n, f"sum by ({_BY}) (rate({s.series(f'{n}_total')}[$__rate_interval]))", r) for n, r in
             (("actuals_matched", "A"), ("actuals_unmatched", "B"), ("predictions_expired", "C"),
              ("predictions_evicted", "D"), ("prediction_errors", "E"))]
    board = board.with_panel(p.timeseries(
        "Joins, drops and errors", "Per second: actuals joined, actuals with no waiting prediction, predictions "
        "expired or evicted unjoined, model calls that raised.", "ops",
        [p.query(e, f"{n.replace('_', ' ')} {_LEGEND}", r) for n, e, r in joins]))
    return dashboard_json(board)


def serving_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text: the served-version promtool cases and the dashboard (provisioned and import copy)."""
    board = served_versions(config)
    return {**serving_rule_test_files(config), SERVING_DASHBOARD_FILE: dump_json(board),
            f"{IMPORT_DIR}/{SERVING_DASHBOARD_UID}.json": dump_json(import_copy(board))}
