"""``deploy/hosts/prometheus.yml``: the Prometheus config for trainers on many hosts, found through HTTP SD.

The same config as ``prometheus/prometheus.yml`` (rules, alerting, Pushgateway job) except that the trainer
job discovers its targets from ``curvewatch sd-server`` (``http_sd_configs``) instead of a shared targets
folder, and copies each target's registered run and rank from their meta labels to the target labels a
target file would give it (so ``TargetDown`` names the run). Run the sd-server next to Prometheus (its
default address ``SD_URL``) with the shared registry the trainers register in
(``Exporter.start(registry_url=...)`` or ``$CURVEWATCH_SD_REGISTRY_URL``). Paths are relative to this file,
so ``promtool check config deploy/hosts/prometheus.yml`` checks it in place with the rules of
``prometheus/rules/``. Generated with the rest (``curvewatch monitoring generate``, ``--check``).
"""

from __future__ import annotations

import copy
from typing import Any

from curvewatch.discovery.settings import META_PREFIX, SD_ADDR, SD_PATH, SD_PORT
from curvewatch.monitoring._yaml import GENERATED_HEADER, dump_yaml
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.prometheus_files import prometheus_config
from curvewatch.prom._names import SD_RANK_LABEL, SD_RUN_ID_LABEL

__all__ = ["HOSTS_PROMETHEUS_FILE", "SD_REFRESH", "SD_URL", "hosts_files", "hosts_prometheus_config"]

HOSTS_PROMETHEUS_FILE = "deploy/hosts/prometheus.yml"
SD_URL = f"http://{SD_ADDR}:{SD_PORT}{SD_PATH}"
SD_REFRESH = "30s"
_RULES_FROM_HERE = "../../prometheus/"  # deploy/hosts/ -> the repository's prometheus/ folder
_HEADER = GENERATED_HEADER + (
    "#\n"
    "# Trainers on many hosts register their endpoints in the shared registry; `curvewatch sd-server --db-url ...`\n"
    f"# serves the live ones on {SD_URL} and Prometheus scrapes what it lists (docs/SCALING.md).\n"
    "# The Alertmanager and Pushgateway addresses are docker-compose's names: replace them with yours.\n"
)


def hosts_prometheus_config(config: MonitoringConfig) -> dict[str, Any]:
    """``prometheus/prometheus.yml``'s config with the trainer job discovered over HTTP SD."""
    result = copy.deepcopy(prometheus_config(config))
    result["rule_files"] = [_RULES_FROM_HERE + path for path in result.get("rule_files", [])]
    for job in result["scrape_configs"]:
        if job["job_name"] == config.trainer_job:
            job.pop("file_sd_configs", None)
            job.pop("static_configs", None)
            job["http_sd_configs"] = [{"url": SD_URL, "refresh_interval": SD_REFRESH}]
            # the registered run and rank become target labels, as a target file's do: `up == 0` (TargetDown)
            # names the run; the job's metric_relabel_configs keep them off the scraped series
            job["relabel_configs"] = [{"source_labels": [META_PREFIX + "run_id"], "target_label": SD_RUN_ID_LABEL},
                                      {"source_labels": [META_PREFIX + "rank"], "target_label": SD_RANK_LABEL}]
    return result


def hosts_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of ``deploy/hosts/prometheus.yml``."""
    return {HOSTS_PROMETHEUS_FILE: dump_yaml(hosts_prometheus_config(config), header=_HEADER)}
