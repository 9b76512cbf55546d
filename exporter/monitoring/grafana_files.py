"""The Grafana side: provisioning (datasource, dashboards provider, alert rules, contact point) and dashboards.

The Grafana-managed alert rules are the Prometheus alerts (same expression, ``for:``, labels and
annotations): query A runs the PromQL alert expression on the provisioned datasource and condition B
(``is_number($A) || is_nan($A) || is_inf($A)``) is true for every series it returns, the way
Grafana converts a Prometheus rule. ``$value`` in descriptions becomes ``$values.A.Value``. They are
one of two alerting paths (``MonitoringConfig.alerting``): by default they are written to
``grafana/alternatives/alerting/`` and not provisioned, so one condition notifies once.
"""

from __future__ import annotations

import json
from typing import Any

from curvewatch.monitoring._panels import to_plain
from curvewatch.monitoring._variables import DATASOURCE_VARIABLE
from curvewatch.monitoring._yaml import GENERATED_HEADER, dump_json, dump_yaml
from curvewatch.monitoring.alerts import alerts
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.dashboards import DASHBOARD_FILES, PROMETHEUS_DASHBOARD_FILES, dashboards
from grafana_foundation_sdk.builders import alerting as alert_b
from grafana_foundation_sdk.builders import expr as expr_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.models import alerting as alert_m
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = [
    "ALERT_RULES_PROVISIONING",
    "ALTERNATIVE_ALERTING_DIR",
    "CONTACT_POINTS_PROVISIONING",
    "DASHBOARDS_IN_CONTAINER",
    "DASHBOARDS_PROVISIONING",
    "DATASOURCES_PROVISIONING",
    "IMPORT_DIR",
    "alerting_path",
    "grafana_files",
    "import_copy",
]

DATASOURCES_PROVISIONING = "grafana/provisioning/datasources/curvewatch.yml"
DASHBOARDS_PROVISIONING = "grafana/provisioning/dashboards/curvewatch.yml"
ALERT_RULES_PROVISIONING = "grafana/provisioning/alerting/curvewatch-alerts.yml"
CONTACT_POINTS_PROVISIONING = "grafana/provisioning/alerting/curvewatch-contact-points.yml"
# Where the Grafana-managed alerting goes while Prometheus + Alertmanager is the alerting path.
ALTERNATIVE_ALERTING_DIR = "grafana/alternatives/alerting"
# Dashboards to import into an existing Grafana (with __inputs); not provisioned.
IMPORT_DIR = "grafana/import"
IMPORT_INPUT = "DS_PROMETHEUS"
GRAFANA_VERSION = "11.6.0"
# Where docker-compose mounts grafana/dashboards/ inside the Grafana container.
DASHBOARDS_IN_CONTAINER = "/etc/grafana/dashboards/curvewatch"
CONTACT_POINT = "curvewatch-webhook"
ORG_ID = 1
_EXPR_UID = "__expr__"
_CONDITION = "is_number($A) || is_nan($A) || is_inf($A)"
# Grafana evaluates rule groups on multiples of 10s; the lookback of the instant query A.
GRAFANA_RULE_INTERVAL = "1m"
_LOOKBACK_S = 600


def datasources(config: MonitoringConfig) -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": [{
        "name": "Prometheus (curvewatch)", "uid": config.datasource_uid, "type": "prometheus", "access": "proxy",
        "url": config.datasource_url, "isDefault": True, "editable": False,
        "jsonData": {"timeInterval": config.scrape_interval, "httpMethod": "POST"},
    }]}


def dashboard_provider(config: MonitoringConfig) -> dict[str, Any]:
    return {"apiVersion": 1, "providers": [{
        "name": "curvewatch", "orgId": ORG_ID, "folder": config.grafana_folder, "type": "file",
        "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 30,
        "options": {"path": DASHBOARDS_IN_CONTAINER, "foldersFromFilesStructure": False},
    }]}


def _rule(config: MonitoringConfig, alert: Any) -> dict[str, Any]:
    datasource = dash_m.DataSourceRef(type_val="prometheus", uid=config.datasource_uid)
    window = alert_m.RelativeTimeRange(from_val=_LOOKBACK_S, to=0)
    query_a = (alert_b.Query("A").datasource_uid(config.datasource_uid).relative_time_range(window)
               .model(prom_b.Dataquery().expr(alert.expr).instant().ref_id("A").datasource(datasource)))
    condition = (alert_b.Query("B").datasource_uid(_EXPR_UID)
                 .model(expr_b.TypeMath().expression(_CONDITION).ref_id("B")
                        .datasource(dash_m.DataSourceRef(type_val=_EXPR_UID, uid=_EXPR_UID))))
    annotations = alert.annotations(config)
    annotations["description"] = annotations["description"].replace("$value ", "$values.A.Value ")
    rule = (alert_b.Rule(alert.name).uid(alert.name.lower()[:40]).condition("B").queries([query_a, condition])
            .for_val(alert.for_).labels(alert.labels).annotations(annotations)
            .no_data_state("OK").exec_err_state("Error").is_paused(False))
    data = to_plain(rule.build().to_json())
    # A provisioning file gives org, folder and group per group, not per rule.
    for key in ("orgID", "folderUID", "ruleGroup"):
        data.pop(key, None)
    return data


def alert_rules(config: MonitoringConfig) -> dict[str, Any]:
    """The training alerts' group, then the served versions' (serving_alerts.py)."""
    from curvewatch.monitoring.serving_alerts import serving_alerts

    return {"apiVersion": 1, "groups": [{
        "orgId": ORG_ID, "name": name, "folder": config.grafana_folder,
        "interval": GRAFANA_RULE_INTERVAL, "rules": [_rule(config, a) for a in group],
    } for name, group in (("curvewatch", alerts(config)), ("curvewatch-serving", serving_alerts(config)))]}


def contact_points(config: MonitoringConfig) -> dict[str, Any]:
    receiver = (alert_b.ContactPoint().uid(CONTACT_POINT).name(CONTACT_POINT).type("webhook")
                .settings({"url": f"${{{config.webhook_url_env}}}", "httpMethod": "POST"})
                .disable_resolve_message(False))
    policy = (alert_b.NotificationPolicy().receiver(CONTACT_POINT).group_by(["alertname", "run_id"])
              .group_wait(config.group_wait).group_interval(config.group_interval)
              .repeat_interval(config.repeat_interval))
    receiver_json = to_plain(receiver.build().to_json())
    receiver_json.pop("name")
    return {
        "apiVersion": 1,
        # The webhook URL is read from the Grafana container's environment when Grafana starts.
        "contactPoints": [{"orgId": ORG_ID, "name": CONTACT_POINT, "receivers": [receiver_json]}],
        "policies": [{"orgId": ORG_ID, **to_plain(policy.build().to_json())}],
    }


_ALTERNATIVE_NOTE = (
    "#\n"
    "# NOT provisioned: Prometheus + Alertmanager is the alerting path (alerting=prometheus). For a setup\n"
    "# without Alertmanager generate with --set alerting=grafana: this file moves to\n"
    "# grafana/provisioning/alerting/ and prometheus.yml stops sending alerts, so nothing notifies twice.\n"
)


def alerting_path(config: MonitoringConfig, provisioning_path: str) -> str:
    """Where a Grafana alerting file goes: provisioned (alerting=grafana) or set aside as the alternative."""
    if config.alerting == "grafana":
        return provisioning_path
    return f"{ALTERNATIVE_ALERTING_DIR}/{provisioning_path.rsplit('/', 1)[1]}"


def grafana_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of every generated file under ``grafana/``."""
    files = {
        DATASOURCES_PROVISIONING: dump_yaml(datasources(config)),
        DASHBOARDS_PROVISIONING: dump_yaml(dashboard_provider(config)),
    }
    header = GENERATED_HEADER if config.alerting == "grafana" else GENERATED_HEADER + _ALTERNATIVE_NOTE
    for path, data in ((ALERT_RULES_PROVISIONING, alert_rules(config)),
                       (CONTACT_POINTS_PROVISIONING, contact_points(config))):
        files[alerting_path(config, path)] = dump_yaml(data, header=header)
    for uid, board in dashboards(config).items():
        files[DASHBOARD_FILES[uid]] = dump_json(board)
        if uid in PROMETHEUS_DASHBOARD_FILES:
            files[f"{IMPORT_DIR}/{uid}.json"] = dump_json(import_copy(board))
    return files


def import_copy(board: dict[str, Any]) -> dict[str, Any]:
    """The dashboard as Grafana's "export for sharing externally" writes it: ``__inputs`` asks for a
    Prometheus datasource on import (Dashboards > New > Import), which becomes the ``datasource``
    variable's default; ``__requires`` names Grafana and the plugins used."""
    board = json.loads(json.dumps(board))
    for variable in board["templating"]["list"]:
        if variable["name"] == DATASOURCE_VARIABLE:
            variable["current"] = {"text": f"${{{IMPORT_INPUT}}}", "value": f"${{{IMPORT_INPUT}}}"}
    panel_types = sorted({p["type"] for p in board["panels"] if p["type"] != "row"})
    requires = [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
                {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
                *({"type": "panel", "id": t, "name": t, "version": ""} for t in panel_types)]
    inputs = [{"name": IMPORT_INPUT, "label": "Prometheus", "description": "The Prometheus that scrapes the "
               "training processes.", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}]
    return {"__inputs": inputs, "__requires": requires, **board}
