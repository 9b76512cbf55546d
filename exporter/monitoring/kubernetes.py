"""``deploy/kubernetes/``: the monitoring bundle for a cluster with prometheus-operator and Grafana's sidecar.

Generated from the same :class:`MonitoringConfig` as ``prometheus/`` and ``grafana/`` (so ``curvewatch monitoring
generate --check`` covers it):

- ``podmonitor.yaml``: a ``PodMonitor`` selecting the training pods by label, one scrape endpoint per local
  rank (``torchrun`` ranks serve on ``trainer_port + LOCAL_RANK``), the job relabelled to ``trainer_job`` so
  the rules' and dashboards' selector matches pods exactly like file- or HTTP-discovered trainers.
- ``serving-podmonitor.yaml``: a ``PodMonitor`` selecting the pods that run ``curvewatch serve-model`` by
  ``SERVING_POD_SELECTOR`` (their container port named ``SERVING_PORT_NAME``), the job relabelled to
  ``serving_job`` like prometheus.yml's file-discovered services.
- ``training-job.yaml``: an example ``Job`` running ``torchrun --nproc_per_node=NPROC_PER_NODE`` with a named
  container port per local rank and the pod labels the PodMonitor selects.
- ``prometheusrule.yaml``: the recording and alerting rules of ``prometheus/rules/`` as a ``PrometheusRule``.
- ``grafana-dashboards.yaml``: each dashboard (the served versions' included) in a ``ConfigMap`` labelled for
  Grafana's dashboard sidecar, pointing at the cluster Prometheus datasource ``DATASOURCE_UID``.

Every manifest carries ``PART_OF``; prometheus-operator picks the PodMonitor and PrometheusRule up when its
``podMonitorSelector`` / ``ruleSelector`` match that label (or are empty). The tests validate each manifest
against the vendored CRD and Kubernetes schemas in ``tests/schemas/kubernetes/``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from curvewatch.monitoring._yaml import GENERATED_HEADER, dump_yaml
from curvewatch.monitoring.config import MonitoringConfig
from curvewatch.monitoring.dashboards import dashboards
from curvewatch.monitoring.prometheus_files import alerting_rules, recording_rules
from curvewatch.monitoring.serving_dashboard import SERVING_DASHBOARD_UID, served_versions

__all__ = [
    "DATASOURCE_UID",
    "DIRECTORY",
    "NPROC_PER_NODE",
    "PART_OF",
    "POD_SELECTOR",
    "SERVING_POD_SELECTOR",
    "SERVING_PORT_NAME",
    "kubernetes_files",
    "manifests",
    "rank_port_name",
]

DIRECTORY = "deploy/kubernetes"
PART_OF = {"app.kubernetes.io/part-of": "curvewatch"}
# The label of the training pods, which the PodMonitor selects: put it on your own training pods too.
POD_SELECTOR = {"app.kubernetes.io/name": "curvewatch-trainer"}
# The label of the pods that run `curvewatch serve-model --addr 0.0.0.0 --port <serving_port>`, and the name
# of their container port: the serving PodMonitor selects and scrapes these.
SERVING_POD_SELECTOR = {"app.kubernetes.io/name": "curvewatch-serving"}
SERVING_PORT_NAME = "serving"
# Local ranks of the example Job (processes per pod): one container port and one scrape endpoint each.
NPROC_PER_NODE = 2
# uid of the cluster's Prometheus datasource in Grafana (kube-prometheus-stack provisions "prometheus").
DATASOURCE_UID = "prometheus"
# Grafana's dashboard sidecar loads ConfigMaps with this label (the Grafana Helm chart's default) and puts
# each in the folder named by this annotation (the chart's `sidecar.dashboards.folderAnnotation`).
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "grafana_folder"
TRAINER_IMAGE = "curvewatch-trainer:0.1.0"  # built from the repository's Dockerfile, like docker-compose's
# The example run keeps serving this long after it ends, so Prometheus scrapes its final state.
LINGER_S = 120
_DATA = "/data"


def rank_port_name(local_rank: int) -> str:
    """The container port name of one local rank (at most 15 characters, as Kubernetes requires)."""
    return f"metrics-{local_rank}"


def _metadata(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": dict(PART_OF), **extra}


def pod_monitor(config: MonitoringConfig) -> dict[str, Any]:
    endpoints = [
        {
            "port": rank_port_name(rank),
            "path": "/metrics",
            "interval": config.scrape_interval,
            # prometheus-operator names the job <namespace>/<podmonitor>; the rules select trainer_job.
            "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": config.trainer_job}],
        }
        for rank in range(NPROC_PER_NODE)
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _metadata("curvewatch-trainers"),
        "spec": {"selector": {"matchLabels": dict(POD_SELECTOR)}, "podMetricsEndpoints": endpoints},
    }


def serving_pod_monitor(config: MonitoringConfig) -> dict[str, Any]:
    endpoint = {"port": SERVING_PORT_NAME, "path": "/metrics", "interval": config.scrape_interval,
                "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": config.serving_job}]}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _metadata("curvewatch-serving"),
        "spec": {"selector": {"matchLabels": dict(SERVING_POD_SELECTOR)}, "podMetricsEndpoints": [endpoint]},
    }


def training_job(config: MonitoringConfig) -> dict[str, Any]:
    train = ["curvewatch", "train", "--all-models", "--quick", "--addr", "0.0.0.0",
             "--port", str(config.trainer_port), "--linger", str(LINGER_S), "--root", f"{_DATA}/saved_models",
             "--quiet"]
    container = {
        "name": "trainer",
        "image": TRAINER_IMAGE,
        # Every rank serves its own endpoint on trainer_port + LOCAL_RANK (curvewatch's ranks="all").
        "command": ["torchrun", "--standalone", f"--nproc_per_node={NPROC_PER_NODE}", "--no-python", *train],
        "ports": [
            {"name": rank_port_name(rank), "containerPort": config.trainer_port + rank, "protocol": "TCP"}
            for rank in range(NPROC_PER_NODE)
        ],
        "volumeMounts": [{"name": "data", "mountPath": _DATA}],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata("curvewatch-train"),
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {**POD_SELECTOR, **PART_OF}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    # The example archives into the pod; mount a PersistentVolumeClaim to keep the versions.
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }


def prometheus_rule(config: MonitoringConfig) -> dict[str, Any]:
    groups = recording_rules(config)["groups"] + alerting_rules(config)["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata("curvewatch-rules"),
        "spec": {"groups": groups},
    }


def dashboard_config_maps(config: MonitoringConfig) -> list[dict[str, Any]]:
    cluster = replace(config, datasource_uid=DATASOURCE_UID)
    boards = {**dashboards(cluster), SERVING_DASHBOARD_UID: served_versions(cluster)}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _metadata(f"{uid}-dashboard", labels={**PART_OF, **SIDECAR_LABEL},
                                  annotations={FOLDER_ANNOTATION: config.grafana_folder}),
            "data": {f"{uid}.json": json.dumps(board, indent=2, ensure_ascii=False) + "\n"},
        }
        for uid, board in boards.items()
    ]


def manifests(config: MonitoringConfig) -> dict[str, list[dict[str, Any]]]:
    """Relative path -> the Kubernetes objects in that file."""
    return {
        f"{DIRECTORY}/podmonitor.yaml": [pod_monitor(config)],
        f"{DIRECTORY}/serving-podmonitor.yaml": [serving_pod_monitor(config)],
        f"{DIRECTORY}/training-job.yaml": [training_job(config)],
        f"{DIRECTORY}/prometheusrule.yaml": [prometheus_rule(config)],
        f"{DIRECTORY}/grafana-dashboards.yaml": dashboard_config_maps(config),
    }


def kubernetes_files(config: MonitoringConfig) -> dict[str, str]:
    """Relative path -> text of every generated file under ``deploy/kubernetes/``."""
    return {
        path: GENERATED_HEADER + "---\n".join(dump_yaml(obj, header="") for obj in objects)
        for path, objects in manifests(config).items()
    }
