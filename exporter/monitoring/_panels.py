"""Panel helpers over grafana-foundation-sdk builders: every panel gets a unit, thresholds and a description.

Time panels never span gaps (an outage shows as a gap, not a line across it); stats are instant
queries; value-against-step panels are XY charts (a numeric x axis).
"""

from __future__ import annotations

from typing import Any

from curvewatch.monitoring._variables import Selectors
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.promql import RUN_STATE_CODES
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as ts_b
from grafana_foundation_sdk.builders import xychart as xy_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_m
from grafana_foundation_sdk.models import dashboard as dash_m
from grafana_foundation_sdk.models import prometheus as prom_m
from grafana_foundation_sdk.models import xychart as xy_m

__all__ = ["STEP_FIELD", "VALUE_FIELD", "Panels", "dashboard_json", "to_plain"]

_STATE_COLORS = {"running": "blue", "finished": "green", "failed": "red"}
Steps = list[tuple[float | None, str]]
BASE_THRESHOLD = 0.0
# Field names of the value-against-step panels (after the merge and organize transformations).
STEP_FIELD, VALUE_FIELD = "step", "value"


def threshold_steps(steps: Steps) -> list[dash_m.Threshold]:
    """Threshold steps; the base step (``None``) gets value 0, not null: the Grafana 11.6 JSON schema
    wants a number there, and Grafana takes the first step as the base whatever its value."""
    return [dash_m.Threshold(value=BASE_THRESHOLD if v is None else v, color=c) for v, c in steps]


def _thresholds(steps: Steps) -> dash_b.ThresholdsConfig:
    return dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps(threshold_steps(steps))


def _override(names: list[str], **props: dict[str, Any]) -> dash_b.DashboardFieldConfigSourceOverrides:
    """Field override of the series named ``names``; ``custom__x`` stands for the property ``custom.x``.

    The Grafana 11.6 JSON schema wants objects as matcher options and property values, so the
    ``byNames`` matcher is used and only object-valued properties (color, lineStyle, …) are allowed.
    """
    for key, value in props.items():
        if not isinstance(value, dict):
            raise TypeError(f"Override property {key!r} must be an object to fit the Grafana 11.6 schema.")
    matcher = dash_m.MatcherConfig(id_val="byNames", options={"mode": "include", "names": names})
    return (dash_b.DashboardFieldConfigSourceOverrides().matcher(matcher)
            .properties([dash_m.DynamicConfigValue(id_val=k.replace("__", "."), value=v) for k, v in props.items()]))


class Panels:
    """Builders of the panels the curvewatch dashboards use, for one config's datasource."""

    def __init__(self, config: MonitoringConfig) -> None:
        self.config = config
        self.datasource = Selectors(config).datasource

    def query(self, expr: str, legend: str = "__auto", ref: str = "A", *, table: bool = False,
              instant: bool = False, range_table: bool = False) -> prom_b.Dataquery:
        """A Prometheus query: a range query, an instant one (``instant``), an instant table (``table``) or a
        range query in table format (``range_table``, for the XY panels)."""
        q = prom_b.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(self.datasource)
        if table:
            return q.instant().format(prom_m.PromQueryFormat.TABLE)
        if range_table:
            return q.range().format(prom_m.PromQueryFormat.TABLE)
        return q.instant() if instant else q.range()

    def state_mappings(self) -> list[dash_m.ValueMap]:
        """``curvewatch:run_state:code`` values shown as the state's name."""
        return [dash_m.ValueMap(options={
            str(code): dash_m.ValueMappingResult(text=name, color=_STATE_COLORS[name], index=i)
            for i, (name, code) in enumerate(RUN_STATE_CODES.items())
        })]

    def timeseries(self, title: str, description: str, unit: str, targets: list[prom_b.Dataquery], *,
                   log: bool = False, steps: Steps | None = None, w: int = 12, h: int = 8,
                   overrides: list[dash_b.DashboardFieldConfigSourceOverrides] = ()) -> ts_b.Panel:
        panel = (ts_b.Panel().title(title).description(description).unit(unit).datasource(self.datasource)
                 .targets(targets).span(w).height(h).line_width(1).fill_opacity(0).show_points(
                     common_m.VisibilityMode.NEVER).span_nulls(False)
                 .thresholds(_thresholds(steps or [(None, "green")]))
                 .legend(common_b.VizLegendOptions().display_mode(common_m.LegendDisplayMode.TABLE)
                         .placement(common_m.LegendPlacement.BOTTOM).show_legend(True).calcs(["lastNotNull", "min"]))
                 .tooltip(common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.MULTI)
                          .sort(common_m.SortOrder.NONE)))
        if steps:
            panel = panel.thresholds_style(common_b.GraphThresholdsStyleConfig().mode(
                common_m.GraphThresholdsStyleMode.DASHED))
        if log:
            panel = panel.scale_distribution(common_b.ScaleDistributionConfig()
                                             .type(common_m.ScaleDistribution.LOG).log(10))
        return panel.overrides(list(overrides)) if overrides else panel

    def xy(self, title: str, description: str, value_query: prom_b.Dataquery, step_query: prom_b.Dataquery,
           partition_by: list[str], *, w: int = 12, h: int = 8) -> xy_b.Panel:
        """Value against step: both queries in table format (same labels), merged row by row into one table
        with ``step`` and ``value`` columns, split into one series per ``partition_by`` values."""
        organize = dash_m.DataTransformerConfig(id_val="organize", options={
            "renameByName": {f"Value #{step_query.build().ref_id}": STEP_FIELD,
                             f"Value #{value_query.build().ref_id}": VALUE_FIELD},
            "excludeByName": {"Time": True},
        })
        partition = dash_m.DataTransformerConfig(id_val="partitionByValues", options={
            "fields": partition_by, "keepFields": False, "naming": {"asLabels": True}})
        def field(name: str) -> xy_b.MatcherConfig:  # byNames: the 11.6 schema wants object options
            return xy_b.MatcherConfig().id("byNames").options({"mode": "include", "names": [name]})

        series = (xy_b.XYSeriesConfig().x(xy_b.XychartXYSeriesConfigX().matcher(field(STEP_FIELD)))
                  .y(xy_b.XychartXYSeriesConfigY().matcher(field(VALUE_FIELD))))
        return (xy_b.Panel().title(title).description(description).unit("short").datasource(self.datasource)
                .targets([value_query, step_query]).span(w).height(h)
                .thresholds(_thresholds([(None, "green")]))
                .mapping(xy_m.SeriesMapping.AUTO).series([series]).show(xy_m.XYShowMode.LINES).line_width(1)
                .legend(common_b.VizLegendOptions().display_mode(common_m.LegendDisplayMode.LIST)
                        .placement(common_m.LegendPlacement.BOTTOM).show_legend(True))
                .tooltip(common_b.VizTooltipOptions().mode(common_m.TooltipDisplayMode.SINGLE)
                         .sort(common_m.SortOrder.NONE))
                .with_transformation(dash_m.DataTransformerConfig(id_val="merge", options={}))
                .with_transformation(organize).with_transformation(partition))

    def stat(self, title: str, description: str, unit: str, target: prom_b.Dataquery, *,
             steps: Steps | None = None, mappings: list[dash_m.ValueMap] | None = None,
             w: int = 3, h: int = 4) -> stat_b.Panel:
        panel = (stat_b.Panel().title(title).description(description).unit(unit).datasource(self.datasource)
                 .targets([target]).span(w).height(h)
                 .thresholds(_thresholds(steps or [(None, "green")]))
                 .color_mode(common_m.BigValueColorMode.VALUE).graph_mode(common_m.BigValueGraphMode.NONE)
                 .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
        return panel.mappings(mappings) if mappings else panel

    def table(self, title: str, description: str, targets: list[prom_b.Dataquery], columns: dict[str, str],
              hidden: list[str], *, w: int = 24, h: int = 8, links: list[dash_b.DashboardLink] = (),
              overrides: list[dash_b.DashboardFieldConfigSourceOverrides] = ()) -> table_b.Panel:
        """Instant table queries merged into one row per run; ``columns`` renames ``Value #<ref>``; ``links``
        are data links of every cell (e.g. to Run detail with the row's run_id)."""
        organize = dash_m.DataTransformerConfig(id_val="organize", options={
            "excludeByName": {name: True for name in ["Time", *hidden]},
            "renameByName": {f"Value #{ref}": name for ref, name in columns.items()},
        })
        panel = table_b.Panel()
        if links:
            panel = panel.data_links(list(links))
        if overrides:
            panel = panel.overrides(list(overrides))
        return (panel.title(title).description(description).datasource(self.datasource)
                .targets(targets).span(w).height(h).unit("short")
                .frame_index(0).show_header(True).cell_height(common_m.TableCellHeight.SM)
                .sort_by([common_b.TableSortByFieldState().display_name("run_id")])
                .thresholds(_thresholds([(None, "green")]))
                .with_transformation(dash_m.DataTransformerConfig(id_val="merge", options={}))
                .with_transformation(organize))

    override = staticmethod(_override)

    @staticmethod
    def link(title: str, url: str) -> dash_b.DashboardLink:
        """A data link (opens in the same tab)."""
        return (dash_b.DashboardLink(title).type(dash_m.DashboardLinkType.LINK).url(url).icon("dashboard")
                .tooltip(title).tags([]).as_dropdown(False).target_blank(False).include_vars(False)
                .keep_time(True))


def dashboard_json(board: dash_b.Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana stores it, with panel ids numbered 1, 2, … in layout order."""
    data = JSONEncoder().default(board.build())
    data = to_plain(data)
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
    return data


def to_plain(value: Any) -> Any:
    """Nested SDK models turned into plain dicts and lists (what ``json.dumps`` would write)."""
    if hasattr(value, "to_json"):
        return to_plain(value.to_json())
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value
