"""deploy/kubernetes/: generated from the one config, valid against the vendored CRD and Kubernetes schemas."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from curvewatch.monitoring import DEFAULT_CONFIG, check_files, generate_files
from curvewatch.monitoring.dashboards import DASHBOARD_FILES
from curvewatch.monitoring.kubernetes import (
    DIRECTORY,
    NPROC_PER_NODE,
    POD_SELECTOR,
    SERVING_POD_SELECTOR,
    SERVING_PORT_NAME,
    manifests,
    rank_port_name,
)
from curvewatch.monitoring.prometheus_files import ALERT_RULES_FILE, RECORDING_RULES_FILE
from curvewatch.monitoring.serving_dashboard import SERVING_DASHBOARD_FILE, SERVING_DASHBOARD_UID

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = Path(__file__).with_name("schemas") / "kubernetes"
CRDS = {
    "PodMonitor": "monitoring.coreos.com_podmonitors.yaml",
    "PrometheusRule": "monitoring.coreos.com_prometheusrules.yaml",
}
JSON_SCHEMAS = {"Job": "job-batch-v1.json", "ConfigMap": "configmap-v1.json"}


def _schema(kind: str) -> dict:
    if kind in CRDS:
        crd = yaml.safe_load((SCHEMAS / CRDS[kind]).read_text())
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        return version["schema"]["openAPIV3Schema"]
    return json.loads((SCHEMAS / JSON_SCHEMAS[kind]).read_text())


def _committed() -> list[dict]:
    docs = []
    for path in sorted((REPO / DIRECTORY).glob("*.yaml")):
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None)
    return docs


def _errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(_schema(doc["kind"]))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_every_committed_manifest_validates_against_its_vendored_schema() -> None:
    docs = _committed()
    assert sorted({d["kind"] for d in docs}) == ["ConfigMap", "Job", "PodMonitor", "PrometheusRule"]
    for doc in docs:
        assert _errors(doc) == [], f"{doc['kind']} {doc['metadata']['name']}"


@pytest.mark.parametrize(("kind", "path", "bad_value"), [
    ("PodMonitor", ("spec", "podMetricsEndpoints", 0, "port"), 9108),  # a port *name* is a string
    ("PrometheusRule", ("spec", "groups", 1, "rules", 0, "for"), "ten minutes"),
    ("Job", ("spec", "template", "spec", "restartPolicy"), ["Never"]),
    ("ConfigMap", ("data",), {"a.json": 1}),
])
def test_the_schemas_catch_a_malformed_manifest(kind: str, path: tuple, bad_value: object) -> None:
    doc = next(d for d in _committed() if d["kind"] == kind)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad_value
    assert _errors(doc), f"the {kind} schema accepted {path} = {bad_value!r}"


def test_the_job_is_refused_with_a_misspelt_field() -> None:
    job = next(d for d in _committed() if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["port"] = []  # strict: no unknown fields
    assert _errors(job)


def test_the_generators_check_covers_deploy_kubernetes(tmp_path: Path) -> None:
    files = generate_files(DEFAULT_CONFIG)
    ours = sorted(p for p in files if p.startswith(f"{DIRECTORY}/"))
    assert ours == sorted(manifests(DEFAULT_CONFIG))
    assert check_files(REPO, files) == []
    for relative in files:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / relative, tmp_path / relative)
    stale = tmp_path / DIRECTORY / "podmonitor.yaml"
    stale.write_text(stale.read_text().replace("metrics-1", "metrics-9"))
    assert check_files(tmp_path, files) == [f"{DIRECTORY}/podmonitor.yaml"]


def test_one_scrape_endpoint_per_torchrun_local_rank_on_port_plus_rank() -> None:
    docs = {d["kind"]: d for d in _committed() if d["metadata"]["name"] != "curvewatch-serving"}
    job, monitor = docs["Job"], docs["PodMonitor"]
    pod = job["spec"]["template"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert POD_SELECTOR.items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    base = DEFAULT_CONFIG.trainer_port
    assert ports == {rank_port_name(r): base + r for r in range(NPROC_PER_NODE)}
    assert f"--nproc_per_node={NPROC_PER_NODE}" in container["command"]
    assert container["command"][container["command"].index("--port") + 1] == str(base)
    endpoints = monitor["spec"]["podMetricsEndpoints"]
    assert [e["port"] for e in endpoints] == list(ports)
    for endpoint in endpoints:  # the rules and dashboards select job="curvewatch"
        assert {"action": "replace", "targetLabel": "job", "replacement": DEFAULT_CONFIG.trainer_job} in \
            endpoint["relabelings"]


def test_the_prometheus_rule_holds_the_generated_rules_and_promtool_accepts_them(tmp_path: Path) -> None:
    rule = next(d for d in _committed() if d["kind"] == "PrometheusRule")
    shipped = [yaml.safe_load((REPO / f).read_text())["groups"] for f in (RECORDING_RULES_FILE, ALERT_RULES_FILE)]
    assert rule["spec"]["groups"] == shipped[0] + shipped[1]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    checked = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dashboards_are_sidecar_config_maps_on_the_cluster_datasource() -> None:
    maps = [d for d in _committed() if d["kind"] == "ConfigMap"]
    boards = {**DASHBOARD_FILES, SERVING_DASHBOARD_UID: SERVING_DASHBOARD_FILE}  # every Prometheus dashboard
    shipped = {uid: json.loads((REPO / path).read_text()) for uid, path in boards.items()}
    assert len(maps) == len(shipped)
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((name, text),) = config_map["data"].items()
        board = json.loads(text)
        original = shipped[name.removesuffix(".json")]
        assert board == original  # the same dashboard, on whatever Prometheus the ${datasource} variable picks
        assert '"uid": "${datasource}"' in text


def test_served_versions_are_scraped_by_their_own_pod_monitor_under_the_serving_job() -> None:
    (monitor,) = [d for d in _committed()
                  if d["kind"] == "PodMonitor" and d["metadata"]["name"] == "curvewatch-serving"]
    assert monitor["spec"]["selector"]["matchLabels"] == SERVING_POD_SELECTOR
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == SERVING_PORT_NAME and endpoint["path"] == "/metrics"
    assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "job",
                                        "replacement": DEFAULT_CONFIG.serving_job}]
    assert SERVING_POD_SELECTOR != POD_SELECTOR  # training pods are not scraped twice
