"""``docker-compose.yml``: Prometheus, Alertmanager, Pushgateway, Grafana and a demo trainer, one command.

Images are pinned in the config; every published port is bound to 127.0.0.1; Grafana's admin password
comes from ``GRAFANA_ADMIN_PASSWORD`` (compose refuses to start without it: no default secret).
Alertmanager and Grafana, which call the webhook, resolve ``host.docker.internal`` to the Docker host
(``extra_hosts``), so the example webhook URL reaches a receiver on the host, not the container itself.
Prometheus' lifecycle endpoints (``/-/reload``, ``/-/quit``) stay closed (no ``--web.enable-lifecycle``:
it re-reads target files by itself; restart the container to load a new config). Prometheus,
Alertmanager and the Pushgateway keep their data in volumes, every service has a healthcheck, and
``--web.external-url`` makes the links in alerts open. Grafana serves the runbook
(``prometheus/runbook.md``) at ``/public/curvewatch/runbook.md``, the alerts' default ``runbook_url``.
The demo trainer runs once (trains, serves ``DEMO_LINGER_S`` more seconds, exits; no restart); its
target is the static ``prometheus/targets/demo-trainer.json``. Checked with docker-compose v1
(``docker-compose config -q``); the file is Compose-spec YAML that v2 (``docker compose``) reads too.
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
DEMO_LINGER_S = 600
DEMO_TRAIN_COMMAND = ["curvewatch", "train", "--all-models", "--quick", "--addr", "0.0.0.0", "--port", "{port}",
                      "--linger", str(DEMO_LINGER_S), "--root", "/data/saved_models", "--quiet"]
RUNBOOK_IN_GRAFANA = "/usr/share/grafana/public/curvewatch/runbook.md"
_HEALTH = {"interval": "30s", "timeout": "5s", "retries": 5, "start_period": "30s"}


def _healthcheck(url: str) -> dict[str, Any]:
    """A healthcheck fetching ``url`` with the busybox wget every Prometheus/Grafana image has."""
    return {"test": ["CMD", "wget", "-q", "-O", "/dev/null", url], **_HEALTH}


def _healthy(*services: str) -> dict[str, dict[str, str]]:
    return {name: {"condition": "service_healthy"} for name in services}


def _local(port: int) -> list[str]:
    return [f"127.0.0.1:{port}:{port}"]


def compose(config: MonitoringConfig) -> dict[str, Any]:
    return {
        "services": {
            "prometheus": {
                "image": config.prometheus_image,
                "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                            f"--web.external-url={config.prometheus_external_url}"],
                "volumes": ["./prometheus:/etc/prometheus:ro", "prometheus-data:/prometheus"],
                "ports": _local(9090),
                "healthcheck": _healthcheck("http://127.0.0.1:9090/-/ready"),
                "depends_on": _healthy("alertmanager", "pushgateway"),
                "restart": "unless-stopped",
            },
            "alertmanager": {
                "image": config.alertmanager_image,
                "command": ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
                            f"--web.external-url={config.alertmanager_external_url}"],
                "volumes": [f"./{ALERTMANAGER_FILE}:/etc/alertmanager/alertmanager.yml:ro",
                            "alertmanager-data:/alertmanager"],
                "ports": _local(9093),
                "healthcheck": _healthcheck("http://127.0.0.1:9093/-/ready"),
                "extra_hosts": list(_TO_DOCKER_HOST),
                "restart": "unless-stopped",
            },
            "pushgateway": {
                "image": config.pushgateway_image,
                # Pushed final states survive a restart of the Pushgateway.
                "command": ["--persistence.file=/pushgateway/metrics.store", "--persistence.interval=1m"],
                "volumes": ["pushgateway-data:/pushgateway"],
                "ports": _local(9091),
                "healthcheck": _healthcheck("http://127.0.0.1:9091/-/ready"),
                "restart": "unless-stopped",
            },
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
                            f"./grafana/dashboards:{DASHBOARDS_IN_CONTAINER}:ro",
                            f"./prometheus/runbook.md:{RUNBOOK_IN_GRAFANA}:ro", "grafana-data:/var/lib/grafana"],
                "ports": _local(3000),
                "healthcheck": _healthcheck("http://127.0.0.1:3000/api/health"),
                "extra_hosts": list(_TO_DOCKER_HOST),
                "depends_on": _healthy("prometheus"),
                "restart": "unless-stopped",
            },
            "trainer": {
                "build": ".",
                "image": "curvewatch-trainer:0.1.0",
                "command": [part.format(port=config.trainer_port) for part in DEMO_TRAIN_COMMAND],
                "expose": [str(config.trainer_port)],
                "volumes": ["trainer-data:/data"],
                "healthcheck": {"test": ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen("
                                         f"'http://127.0.0.1:{config.trainer_port}/metrics', timeout=5)"], **_HEALTH},
                "depends_on": _healthy("prometheus"),
                # Runs once: trains the four models, serves DEMO_LINGER_S more seconds, exits.
                "restart": "no",
            },
        },
        "volumes": {name: {} for name in ("prometheus-data", "alertmanager-data", "pushgateway-data", "grafana-data",
                                          "trainer-data")},
    }


def compose_files(config: MonitoringConfig) -> dict[str, str]:
    header = _HEADER.format(webhook=config.webhook_url, env=config.webhook_url_env)
    return {COMPOSE_FILE: dump_yaml(add_registry_database(compose(config)), header=header)}
