"""The committed Prometheus/Alertmanager files pass promtool and amtool; compose validates."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.monitoring import ALERT_PREFIX, alerts, duration_seconds
from exporter.monitoring.compose import COMPOSE_FILE
from exporter.monitoring.prometheus_files import ALERT_RULES_FILE, ALERTMANAGER_FILE, PROMETHEUS_FILE
from exporter.monitoring.rule_tests import RULE_TESTS_FILE

REPO = Path(__file__).resolve().parents[1]


def _run(*argv: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"


def test_promtool_check_config_accepts_prometheus_yml_and_its_rule_files() -> None:
    result = _run("promtool", "check", "config", REPO / PROMETHEUS_FILE)
    _ok(result)
    assert "2 rule files found" in result.stdout


def test_promtool_check_rules_accepts_every_rule_file() -> None:
    files = sorted((REPO / "prometheus" / "rules").glob("*.yml"))
    assert len(files) == 2
    _ok(_run("promtool", "check", "rules", *files))


def test_amtool_check_config_accepts_alertmanager_yml_with_a_webhook_receiver() -> None:
    result = _run("amtool", "check-config", REPO / ALERTMANAGER_FILE)
    _ok(result)
    receivers = yaml.safe_load((REPO / ALERTMANAGER_FILE).read_text())["receivers"]
    assert receivers[0]["webhook_configs"][0]["url"].startswith("http")


def test_promtool_rule_tests_pass() -> None:
    result = _run("promtool", "test", "rules", REPO / RULE_TESTS_FILE)
    _ok(result)
    assert "SUCCESS" in result.stdout


def test_rule_tests_cover_every_alert_before_after_and_healthy() -> None:
    spec = yaml.safe_load((REPO / RULE_TESTS_FILE).read_text())
    by_name = {t["name"]: t for t in spec["tests"]}
    for alert in alerts():
        test = by_name[alert.name]
        before, after = test["alert_rule_test"]
        assert before["exp_alerts"] == [] and after["exp_alerts"], alert.name
        # "before" is one evaluation short of the for: window after the condition can first hold.
        assert duration_seconds(alert.for_) <= duration_seconds(before["eval_time"]) < duration_seconds(
            after["eval_time"]), alert.name
        fired = after["exp_alerts"][0]["exp_labels"]
        assert fired["severity"] == alert.severity
        assert set(after["exp_alerts"][0]["exp_annotations"]) == {"summary", "description", "runbook_url"}
        assert "{{" not in after["exp_alerts"][0]["exp_annotations"]["description"]
        healthy = [s for s in test["input_series"] if 'run_id="ok"' in s["series"] or "10.0.0.2" in s["series"]]
        assert healthy, f"{alert.name} has no healthy series that must not fire"


def test_promtool_rule_tests_fail_when_a_threshold_is_wrong(tmp_path: Path) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(REPO / "prometheus", copy)
    rules = copy / "rules" / Path(ALERT_RULES_FILE).name
    ratio = "curvewatch:value_over_best:ratio"
    rules.write_text(rules.read_text().replace(f"{ratio} > 3", f"{ratio} > 5"))
    result = _run("promtool", "test", "rules", copy / "tests" / Path(RULE_TESTS_FILE).name)
    assert result.returncode != 0
    assert f"{ALERT_PREFIX}LossDiverging" in result.stdout + result.stderr


def _compose_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"GRAFANA_ADMIN_PASSWORD", "CURVEWATCH_WEBHOOK_URL"}}
    return {**env, **extra}


def test_docker_compose_config_is_valid() -> None:
    _ok(_run("docker-compose", "-f", REPO / COMPOSE_FILE, "config", "-q", env=_compose_env(GRAFANA_ADMIN_PASSWORD="x")))


def test_docker_compose_refuses_to_start_without_an_admin_password() -> None:
    result = _run("docker-compose", "-f", REPO / COMPOSE_FILE, "config", "-q", env=_compose_env())
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stderr


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / COMPOSE_FILE).read_text())


def test_compose_binds_ports_to_localhost_and_pins_images(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"prometheus", "alertmanager", "pushgateway", "grafana", "trainer"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name} image {image} is not pinned"


def test_compose_mounts_the_generated_provisioning(compose: dict) -> None:
    volumes = compose["services"]["grafana"]["volumes"] + compose["services"]["prometheus"]["volumes"]
    for volume in volumes:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), f"compose mounts {source}, which does not exist"
    assert compose["services"]["trainer"]["build"] == "."


def test_dockerfile_installs_the_cpu_torch_pin_then_the_project() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    torch_line = next(line for line in text.splitlines() if "torch==" in line)
    assert "torch==2.13.0" in torch_line and "--index-url https://download.pytorch.org/whl/cpu" in torch_line
    assert text.index("torch==2.13.0") < text.index("pip install --no-cache-dir .")
    assert '"curvewatch", "train"' in text
