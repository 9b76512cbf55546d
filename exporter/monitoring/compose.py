"""``docker-compose.yml``: Prometheus, Alertmanager, Pushgateway, Grafana and a demo trainer, one command.

Images are pinned in the config; every published port is bound to 127.0.0.1; Grafana's admin password
comes from ``GRAFANA_ADMIN_PASSWORD`` (compose refuses to start without it: no default secret).
"""

from __future__ import annotations

from typing import Any

from exporter.monitoring._yaml import GENERATED_HEADER, dump_yaml
from exporter.monitoring.config import MonitoringConfig
from exporter.monitoring.grafana_files import DASHBOARDS_IN_CONTAINER
from exporter.monitoring.prometheus_files import ALERTMANAGER_FILE

__all__ = ["COMPOSE_FILE", "compose_files"]

COMPOSE_FILE = "docker-compose.yml"
_HEADER = GENERATED_HEADER + (
    "#\n"
    "# Usage: GRAFANA_ADMIN_PASSWORD=... docker compose up -d   (Grafana on http://127.0.0.1:3000, user admin)\n"
    "# Prometheus http://127.0.0.1:9090, Alertmanager :9093, Pushgateway :9091. Add a training process on\n"
    "# another machine by writing a target file into prometheus/targets/ (see prometheus/runbook.md).\n"
)
DEMO_TRAIN_COMMAND = ["curvewatch", "train", "--all-models", "--quick", "--addr", "0.0.0.0", "--port", "{port}",
                      "--linger", "86400", "--root", "/data/saved_models", "--quiet"]


def _local(port: int) -> list[str]:
    return [f"127.0.0.1:{port}:{port}"]


def compose(config: MonitoringConfig) -> dict[str, Any]:
    return {
        "services": {
            "prometheus": {
                "image": config.prometheus_image,
                "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                            "--web.enable-lifecycle"],
                "volumes": ["./prometheus:/etc/prometheus:ro", "prometheus-data:/prometheus"],
                "ports": _local(9090),
                "depends_on": ["alertmanager", "pushgateway"],
                "restart": "unless-stopped",
            },
            "alertmanager": {
                "image": config.alertmanager_image,
                "command": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
                "volumes": [f"./{ALERTMANAGER_FILE}:/etc/alertmanager/alertmanager.yml:ro"],
                "ports": _local(9093),
                "restart": "unless-stopped",
            },
            "pushgateway": {"image": config.pushgateway_image, "ports": _local(9091), "restart": "unless-stopped"},
            "grafana": {
                "image": config.grafana_image,
                "environment": {
                    "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD to the "
                                                  "Grafana admin password}",
                    "GF_AUTH_ANONYMOUS_ENABLED": "false",
                    "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": f"{DASHBOARDS_IN_CONTAINER}/curvewatch-overview.json",
                    config.webhook_url_env: f"${{{config.webhook_url_env}:-{config.webhook_url}}}",
                },
                "volumes": ["./grafana/provisioning:/etc/grafana/provisioning:ro",
                            f"./grafana/dashboards:{DASHBOARDS_IN_CONTAINER}:ro", "grafana-data:/var/lib/grafana"],
                "ports": _local(3000),
                "depends_on": ["prometheus"],
                "restart": "unless-stopped",
            },
            "trainer": {
                "build": ".",
                "image": "curvewatch-trainer:0.1.0",
                "command": [part.format(port=config.trainer_port) for part in DEMO_TRAIN_COMMAND],
                "expose": [str(config.trainer_port)],
                "volumes": ["trainer-data:/data"],
            },
        },
        "volumes": {"prometheus-data": {}, "grafana-data": {}, "trainer-data": {}},
    }


def compose_files(config: MonitoringConfig) -> dict[str, str]:
    return {COMPOSE_FILE: dump_yaml(compose(config), header=_HEADER)}
