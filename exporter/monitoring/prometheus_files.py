"""The Prometheus side: ``prometheus.yml``, recording and alerting rule files, ``alertmanager.yml``.

Paths inside ``prometheus.yml`` are relative to it (Prometheus resolves them against the config's
folder), so the folder works mounted at ``/etc/prometheus`` in docker-compose and in place for
``promtool check config``.
"""

from __future__ import annotations

import json
from typing import Any

from curvewatch.monitoring._yaml import GENERATED_HEADER, dump_json, dump_yaml
from curvewatch.monitoring.alerts import alerts
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.promql import Queries
from curvewatch.prom._names import SD_RANK_LABEL, SD_RUN_ID_LABEL

__all__ = [
    "ALERTMANAGER_FILE",
    "ALERT_RULES_FILE",
    "DEMO_TARGET_FILE",
    "PROMETHEUS_FILE",
    "RECORDING_RULES_FILE",
    "SERVING_TARGETS_GLOB",
    "TARGETS_GLOB",
    "prometheus_files",
]

PROMETHEUS_FILE = "prometheus/prometheus.yml"
RECORDING_RULES_FILE = "prometheus/rules/curvewatch.rules.yml"
ALERT_RULES_FILE = "prometheus/rules/curvewatch.alerts.yml"
ALERTMANAGER_FILE = "prometheus/alertmanager.yml"
# A trainer registers itself by writing a JSON target file here (file-based service discovery).
TARGETS_GLOB = "targets/*.json"
# A `curvewatch serve-model --targets-dir prometheus/serving-targets` service registers itself here.
SERVING_TARGETS_GLOB = "serving-targets/*.json"
DEMO_TARGET_FILE = "prometheus/targets/demo-trainer.json"
_PROMETHEUS_HEADER = GENERATED_HEADER + (
    "#\n"
    "# A training process registers itself by writing prometheus/targets/<name>.json (write a temp file, then\n"
    "# rename it), e.g. {example}, and deletes it\n"
    "# when the run ends; Prometheus re-reads the folder by itself. Short jobs push to the Pushgateway.\n"
)
RECORDING_GROUP = "curvewatch.rules"
ALERT_GROUP = "curvewatch.alerts"


def prometheus_config(config: MonitoringConfig) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": config.scrape_interval, "evaluation_interval": config.evaluation_interval},
        "rule_files": ["rules/*.yml"],
        **({"alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]}}
           if config.alerting == "prometheus" else {}),
        "scrape_configs": [
            {
                "job_name": config.trainer_job,
                # Each file is a JSON list of {"targets": ["host:port"], "labels": {...}}; Prometheus
                # re-reads the folder when a file appears, changes or goes away.
                "file_sd_configs": [{"files": [TARGETS_GLOB], "refresh_interval": "30s"}],
                # The run id and rank a trainer writes as target labels stay on `up` (CurvewatchTargetDown
                # says which run went away) but not on the scraped series, which carry run_id and rank.
                "metric_relabel_configs": [{"action": "labeldrop", "regex": f"{SD_RUN_ID_LABEL}|{SD_RANK_LABEL}"}],
            },
            {
                "job_name": config.pushgateway_job,
                # Keep the job and instance a run pushed with, not the Pushgateway's own.
                "honor_labels": True,
                "static_configs": [{"targets": ["pushgateway:9091"]}],
            },
            {
                # Served versions (curvewatch serve-model): each service writes its own target file and
                # deletes it when it stops; its series carry identifier, model_version and role.
                "job_name": config.serving_job,
                "file_sd_configs": [{"files": [SERVING_TARGETS_GLOB], "refresh_interval": "30s"}],
            },
        ],
    }


def recording_rules(config: MonitoringConfig) -> dict[str, Any]:
    rules = [{"record": r.record, "expr": r.expr} for r in Queries(config).recording_rules()]
    return {"groups": [{"name": RECORDING_GROUP, "rules": rules}]}


def alerting_rules(config: MonitoringConfig) -> dict[str, Any]:
    """The training alerts' group, then the served versions' (serving_alerts.py)."""
    from curvewatch.monitoring.serving_alerts import SERVING_ALERT_GROUP, serving_alerts

    def rules(group: list) -> list[dict[str, Any]]:
        return [{"alert": a.name, "expr": a.expr, "for": a.for_, "labels": a.labels,
                 "annotations": a.annotations(config)} for a in group]

    return {"groups": [{"name": ALERT_GROUP, "rules": rules(alerts(config))},
                       {"name": SERVING_ALERT_GROUP, "rules": rules(serving_alerts(config))}]}


def alertmanager_config(config: MonitoringConfig) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "curvewatch-webhook",
            "group_by": ["alertname", "run_id"],
            "group_wait": config.group_wait,
            "group_interval": config.group_interval,
            "repeat_interval": config.repeat_interval,
        },
        # A critical alert of a run silences its warnings (a NaN run also diverges and stalls).
        "inhibit_rules": [
            {
                "source_matchers": [f'severity="{config.severity_critical}"'],
                "target_matchers": [f'severity=~"{config.severity_warning}|{config.severity_info}"'],
                "equal": ["run_id", "rank"],
            }
        ],
        "receivers": [
            {
                "name": "curvewatch-webhook",
                # Example: every alert is POSTed as JSON to this URL; replace it with your receiver.
                "webhook_configs": [{"url": config.webhook_url, "send_resolved": True}],
            }
        ],
    }


def example_target(config: MonitoringConfig, address: str = "10.0.0.7:9108") -> list[dict[str, Any]]:
    """A target file: the shape a trainer writes to register (its run id and rank, the example labels)."""
    labels = {**config.target_labels(), SD_RUN_ID_LABEL: "my-run-1", SD_RANK_LABEL: "0"}
    return [{"targets": [address], "labels": labels}]


def demo_targets(config: MonitoringConfig) -> list[dict[str, Any]]:
    """The target file of docker-compose's demo trainer (it serves several runs: no run id label)."""
    return [{"targets": [f"trainer:{config.trainer_port}"], "labels": config.target_labels()}]


def prometheus_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of every generated file under ``prometheus/`` except the rule tests."""
    return {
        PROMETHEUS_FILE: dump_yaml(prometheus_config(config), header=_PROMETHEUS_HEADER.format(
            example=json.dumps(example_target(config), sort_keys=True))),
        RECORDING_RULES_FILE: dump_yaml(recording_rules(config)),
        ALERT_RULES_FILE: dump_yaml(alerting_rules(config)),
        ALERTMANAGER_FILE: dump_yaml(alertmanager_config(config)),
        DEMO_TARGET_FILE: dump_json(demo_targets(config)),
    }
