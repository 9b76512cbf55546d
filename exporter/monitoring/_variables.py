"""Dashboard variables and the selectors built on them: any Grafana, any Prometheus job, any run's labels.

Every dashboard takes its Prometheus from ``${datasource}`` (a datasource variable: imported into an
existing Grafana it picks that Grafana's Prometheus), its job from ``$job`` (default: the config's
``trainer_job``) and filters runs by the ``curvewatch_run_info`` labels in :data:`FILTER_LABELS` and by
``rank``. Every panel query goes through :meth:`Selectors.series` (job and extra selector) and
:meth:`Selectors.filtered` (the label filters, joined through ``curvewatch_run_info``).
"""

from __future__ import annotations

from curvewatch.monitoring.alerts import ALERT_PREFIX
from curvewatch.monitoring.config import MonitoringConfig
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = ["DATASOURCE_VARIABLE", "FILTER_LABELS", "Selectors"]

DATASOURCE_VARIABLE = "datasource"
# curvewatch_run_info labels offered as filters on every dashboard (plus rank, a label of every series).
FILTER_LABELS = ("cluster", "experiment", "model_type", "host")  # cluster: an external label (docs/SCALING.md)
_ALL = ".*"
RUN_INFO = "curvewatch_run_info"


class Selectors:
    """Variables of the curvewatch dashboards and the PromQL selectors that use them."""

    def __init__(self, config: MonitoringConfig) -> None:
        self.config = config
        self.datasource = dash_m.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")

    # ---- selectors ---------------------------------------------------------------------------------
    def series(self, name: str, *matchers: str) -> str:
        """``name{job=~"$job", <config selector>, <matchers>}``."""
        parts = [m for m in ('job=~"$job"', self.config.selector, *matchers) if m]
        return f"{name}{{{', '.join(parts)}}}"

    @property
    def on_run(self) -> str:
        return ", ".join(self.config.run_labels)

    def run_info(self, *matchers: str) -> str:
        """``curvewatch_run_info`` of the runs the filters select."""
        filters = [f'{label}=~"${label}"' for label in FILTER_LABELS]
        return self.series(RUN_INFO, *filters, 'rank=~"$rank"', *matchers)

    def filtered(self, expr: str, *run_matchers: str, seen_within: str | None = None) -> str:
        """``expr`` restricted to the runs the filters (and ``run_matchers``) select; ``seen_within`` (a
        duration) keeps runs whose series are gone but were seen that recently (ended or vanished runs)."""
        info = self.run_info(*run_matchers)
        if seen_within is not None:
            info = f"last_over_time({info}[{seen_within}])"
        return f"{expr}\nand on ({self.on_run}) {info}"

    def alerts_of(self, run_matcher: str) -> str:
        """Firing curvewatch alerts of the runs ``run_matcher`` selects (annotations on time panels)."""
        return f'ALERTS{{alertstate="firing", alertname=~"{ALERT_PREFIX}.*", {run_matcher}}}'

    # ---- variables ---------------------------------------------------------------------------------
    def datasource_variable(self) -> dash_b.DatasourceVariable:
        return (dash_b.DatasourceVariable(DATASOURCE_VARIABLE).label("Prometheus").type("prometheus")
                .description("The Prometheus that scrapes the training processes."))

    def _query_variable(self, name: str, label: str, query: str, description: str, *, multi: bool,
                        default: str | None = None) -> dash_b.QueryVariable:
        var = (dash_b.QueryVariable(name).label(label).datasource(self.datasource).query(query)
               .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED).sort(dash_m.VariableSort.NATURAL_ASC)
               .description(description))
        if multi:
            var = var.multi(True).include_all(True).all_value(_ALL)
            default = default or "$__all"
        if default is not None:
            var = var.current(dash_m.VariableOption(text=default if default != "$__all" else "All", value=default))
        return var

    def job_variable(self) -> dash_b.QueryVariable:
        return self._query_variable(
            "job", "Job", f"label_values({RUN_INFO}, job)",
            f"The Prometheus job of the training processes (generated default: {self.config.trainer_job}).",
            multi=False, default=self.config.trainer_job)

    def filter_variables(self) -> list[dash_b.QueryVariable]:
        found = [self._query_variable(label, label.replace("_", " ").capitalize(),
                                      f'label_values({self.series(RUN_INFO)}, {label})',
                                      f"Only runs whose curvewatch_run_info has this {label}.", multi=True)
                 for label in FILTER_LABELS]
        found.append(self._query_variable("rank", "Rank", f'label_values({self.series(RUN_INFO)}, rank)',
                                          "Only these ranks of multi-process runs.", multi=True))
        return found

    def run_variable(self, name: str, *, multi: bool) -> dash_b.QueryVariable:
        return self._query_variable(name, "Runs" if multi else "Run", f"label_values({self.run_info()}, run_id)",
                                    "The run_id of the runs Prometheus has seen in the time range "
                                    "(filtered by the variables before it).", multi=multi)

    def line_variable(self, name: str, label: str, run_matcher: str) -> dash_b.QueryVariable:
        """``chart`` or ``metric`` values of the selected runs' lines: panels repeat per value."""
        return self._query_variable(
            name, label.capitalize(), f"label_values({self.series('curvewatch_value', run_matcher)}, {label})",
            f"The {label}s the selected runs log; one panel each.", multi=True)

    def standard_variables(self) -> list[dash_b.DatasourceVariable | dash_b.QueryVariable]:
        return [self.datasource_variable(), self.job_variable(), *self.filter_variables()]

    def alert_annotation(self, run_matcher: str) -> dash_b.AnnotationQuery:
        return (dash_b.AnnotationQuery().name("curvewatch alerts").datasource(self.datasource).enable(True)
                .icon_color("red").expr(self.alerts_of(run_matcher)))
