"""Panel and variable builders of the archive dashboards: SQL queries on the registry's PostgreSQL datasource."""

from __future__ import annotations

from typing import Any

from curvewatch.monitoring._panels import threshold_steps
from curvewatch.monitoring.config import MonitoringConfig
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import trend as trend_b
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = ["ArchivePanels", "link"]

_TAGS = ["curvewatch", "archive"]


class _SqlQuery(cogbuilder.Builder[Any]):
    """A PostgreSQL datasource query in code mode, as a table."""

    def __init__(self, uid: str, sql: str, ref: str = "A") -> None:
        self._json = {"refId": ref, "datasource": {"type": "grafana-postgresql-datasource", "uid": uid},
                      "editorMode": "code", "format": "table", "rawQuery": True, "rawSql": sql}

    def build(self) -> Any:
        return self

    def to_json(self) -> dict[str, Any]:
        return dict(self._json)


class ArchivePanels:
    """Builders of the archive dashboards' panels and variables, for one PostgreSQL datasource."""

    def __init__(self, config: MonitoringConfig, datasource_uid: str) -> None:
        self.config = config
        self.uid = datasource_uid
        self.ds = dash_m.DataSourceRef(type_val="grafana-postgresql-datasource", uid=self.uid)

    def board(self, uid: str, title: str, description: str) -> dash_b.Dashboard:
        return (dash_b.Dashboard(title).uid(uid).description(description).tags(_TAGS).editable()
                .time("now-30d", "now").timezone("browser").tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
                .link(dash_b.DashboardLink("curvewatch dashboards").type(dash_m.DashboardLinkType.DASHBOARDS)
                      .tags(["curvewatch"]).as_dropdown(True).include_vars(False).keep_time(True)))

    def variable(self, name: str, label: str, sql: str, description: str, *, multi: bool = False,
                 hidden: bool = False) -> dash_b.QueryVariable:
        var = (dash_b.QueryVariable(name).label(label).datasource(self.ds).query(sql).description(description)
               .refresh(dash_m.VariableRefresh.ON_DASHBOARD_LOAD).sort(dash_m.VariableSort.DISABLED))
        if multi:
            var = var.multi(True).include_all(True).current(dash_m.VariableOption(text="All", value="$__all"))
        return var.hide(dash_m.VariableHide.HIDE_VARIABLE) if hidden else var

    def _thresholds(self) -> dash_b.ThresholdsConfig:
        return (dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE)
                .steps(threshold_steps([(None, "green")])))

    def table(self, title: str, description: str, sql: str, *, links: list[dash_b.DashboardLink] = (),
              w: int = 24, h: int = 8) -> table_b.Panel:
        panel = (table_b.Panel().title(title).description(description).datasource(self.ds)
                 .targets([_SqlQuery(self.uid, sql)]).span(w).height(h).unit("short")
                 .frame_index(0).show_header(True).cell_height(common_m.TableCellHeight.SM)
                 .thresholds(self._thresholds()))
        return panel.data_links(list(links)) if links else panel

    def stat(self, title: str, description: str, sql: str, *, w: int = 6) -> stat_b.Panel:
        return (stat_b.Panel().title(title).description(description).datasource(self.ds).unit("short")
                .targets([_SqlQuery(self.uid, sql)]).span(w).height(4).thresholds(self._thresholds())
                .color_mode(common_m.BigValueColorMode.VALUE).graph_mode(common_m.BigValueGraphMode.NONE)
                .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))

    def trend(self, title: str, description: str, sql: str, series: str, *, log: bool, repeat: str,
              w: int = 12, h: int = 9) -> trend_b.Panel:
        """Values against ``step``; one frame per ``series`` value; ``best`` shows the best point alone."""
        partition = dash_m.DataTransformerConfig(id_val="partitionByValues", options={
            "fields": [series], "keepFields": False, "naming": {"asLabels": True}})
        panel = (trend_b.Panel().title(title).description(description).datasource(self.ds)
                 .targets([_SqlQuery(self.uid, sql)]).span(w).height(h).unit("short").x_field("step")
                 .with_transformation(partition).line_width(1).fill_opacity(0).point_size(9)
                 .show_points(common_m.VisibilityMode.AUTO).span_nulls(False).thresholds(self._thresholds())
                 .repeat(repeat).repeat_direction("h").max_per_row(2)
                 .legend(common_b.VizLegendOptions().display_mode(common_m.LegendDisplayMode.TABLE)
                         .placement(common_m.LegendPlacement.BOTTOM).show_legend(True).calcs(["min", "lastNotNull"]))
                 .tooltip(common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.MULTI)
                          .sort(common_m.SortOrder.NONE))
                 .overrides([dash_b.DashboardFieldConfigSourceOverrides()
                             .matcher(dash_m.MatcherConfig(id_val="byRegexp", options={"pattern": "best.*"}))
                             .properties([dash_m.DynamicConfigValue(id_val="color", value={
                                 "mode": "fixed", "fixedColor": "green"})])]))
        if log:
            panel = panel.scale_distribution(common_b.ScaleDistributionConfig()
                                             .type(common_m.ScaleDistribution.LOG).log(10))
        return panel


def link(title: str, url: str) -> dash_b.DashboardLink:
    return dash_b.DashboardLink(title).type(dash_m.DashboardLinkType.LINK).url(url).target_blank(False)
