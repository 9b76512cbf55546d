"""The Grafana side: provisioning (datasource, dashboards provider, alert rules, contact point) and dashboards.

The Grafana-managed alert rules are the Prometheus alerts (same expression, ``for:``, labels and
annotations): query A runs the PromQL alert expression on the provisioned datasource and condition B
(``is_number($A) || is_nan($A) || is_inf($A)``) is true for every series it returns, the way
Grafana converts a Prometheus rule. ``$value`` in descriptions becomes ``$values.A.Value``.
"""

from __future__ import annotations

from typing import Any

from curvewatch.monitoring._panels import to_plain
from curvewatch.monitoring._yaml import dump_json, dump_yaml
from curvewatch.monitoring.alerts import alerts
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.dashboards import DASHBOARD_FILES, dashboards
from grafana_foundation_sdk.builders import alerting as alert_b
from grafana_foundation_sdk.builders import expr as expr_b
from grafana_foundation_sdk.builders import prometheus as prom_b
from grafana_foundation_sdk.models import alerting as alert_m
from grafana_foundation_sdk.models import dashboard as dash_m

__all__ = [
    "ALERT_RULES_PROVISIONING",
    "CONTACT_POINTS_PROVISIONING",
    "DASHBOARDS_IN_CONTAINER",
    "DASHBOARDS_PROVISIONING",
    "DATASOURCES_PROVISIONING",
    "grafana_files",
]

DATASOURCES_PROVISIONING = "grafana/provisioning/datasources/curvewatch.yml"
DASHBOARDS_PROVISIONING = "grafana/provisioning/dashboards/curvewatch.yml"
ALERT_RULES_PROVISIONING = "grafana/provisioning/alerting/curvewatch-alerts.yml"
CONTACT_POINTS_PROVISIONING = "grafana/provisioning/alerting/curvewatch-contact-points.yml"
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
    return {"apiVersion": 1, "groups": [{
        "orgId": ORG_ID, "name": "curvewatch", "folder": config.grafana_folder,
        "interval": GRAFANA_RULE_INTERVAL, "rules": [_rule(config, a) for a in alerts(config)],
    }]}


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


def grafana_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of every generated file under ``grafana/``."""
    files = {
        DATASOURCES_PROVISIONING: dump_yaml(datasources(config)),
        DASHBOARDS_PROVISIONING: dump_yaml(dashboard_provider(config)),
        ALERT_RULES_PROVISIONING: dump_yaml(alert_rules(config)),
        CONTACT_POINTS_PROVISIONING: dump_yaml(contact_points(config)),
    }
    for uid, board in dashboards(config).items():
        files[DASHBOARD_FILES[uid]] = dump_json(board)
    return files
