"""``docker-compose.yml``: Prometheus, Alertmanager, Pushgateway, Grafana and a demo trainer, one command.

Images are pinned in the config; every published port is bound to 127.0.0.1; Grafana's admin password
comes from ``GRAFANA_ADMIN_PASSWORD`` (compose refuses to start without it: no default secret).
Alertmanager and Grafana, which call the webhook, resolve ``host.docker.internal`` to the Docker host
(``extra_hosts``), so the example webhook URL reaches a receiver on the host, not the container itself.
The demo trainer restarts unless stopped; its target is the static ``prometheus/targets/demo-trainer.json``.
"""

from __future__ import annotations

from typing import Any

from curvewatch.monitoring._yaml import GENERATED_HEADER, dump_yaml
from curvewatch.monitoring.archive_dashboards import add_registry_database
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.grafana_files import DASHBOARDS_IN_CONTAINER
from curvewatch.monitoring.prometheus_files import ALERTMANAGER_FILE

__all__ = ["COMPOSE_FILE", "DOCKER_HOST_NAME", "compose_files"]

COMPOSE_FILE = "docker-compose.yml"
_HEADER = GENERATED_HEADER + (
    "#\n"
    "# Usage: GRAFANA_ADMIN_PASSWORD=... docker compose up -d   (Grafana on http://127.0.0.1:3000, user admin)\n"
    "# Prometheus http://127.0.0.1:9090, Alertmanager :9093, Pushgateway :9091. Add a training process on\n"
    "# another machine by writing a target file into prometheus/targets/ (see prometheus/runbook.md).\n"
    "# Alerts go to the example webhook {webhook}: a placeholder for a receiver\n"
    "# on the Docker host (extra_hosts maps host.docker.internal to it). Set Grafana's with {env}=...,\n"
    "# Alertmanager's with `curvewatch monitoring generate --set webhook_url=...`.\n"
)
# Docker resolves this name to the host from inside a container (Linux needs the extra_hosts entry).
DOCKER_HOST_NAME = "host.docker.internal"
_TO_DOCKER_HOST = [f"{DOCKER_HOST_NAME}:host-gateway"]
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
                "extra_hosts": list(_TO_DOCKER_HOST),
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
                "extra_hosts": list(_TO_DOCKER_HOST),
                "depends_on": ["prometheus"],
                "restart": "unless-stopped",
            },
            "trainer": {
                "build": ".",
                "image": "curvewatch-trainer:0.1.0",
                "command": [part.format(port=config.trainer_port) for part in DEMO_TRAIN_COMMAND],
                "expose": [str(config.trainer_port)],
                "volumes": ["trainer-data:/data"],
                "restart": "unless-stopped",
            },
        },
        "volumes": {"prometheus-data": {}, "grafana-data": {}, "trainer-data": {}},
    }


def compose_files(config: MonitoringConfig) -> dict[str, str]:
    header = _HEADER.format(webhook=config.webhook_url, env=config.webhook_url_env)
    return {COMPOSE_FILE: dump_yaml(add_registry_database(compose(config)), header=header)}
