"""The committed Prometheus/Alertmanager files pass promtool and amtool; compose validates."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from curvewatch.monitoring import ALERT_PREFIX, DEFAULT_CONFIG, alerts, duration_seconds
from curvewatch.monitoring.compose import COMPOSE_FILE, DOCKER_HOST_NAME
from curvewatch.monitoring.prometheus_files import ALERT_RULES_FILE, ALERTMANAGER_FILE, PROMETHEUS_FILE
from curvewatch.monitoring.rule_tests import RULE_TESTS_FILE

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


# (test group that must fail, text in the alert rules file, replacement): bugs the rule tests must catch.
_RULE_MUTATIONS = [
    # A wrong threshold.
    ("LossDiverging", "\n          > 3\n", "\n          > 5\n"),
    # increase() alone (the second branch emptied) misses a counter already above 0 at its first scrape.
    ("NonFiniteValues (counter above 0 at its first scrape)",
     '"} offset 5m)', '"})'),
    # Without the start-time branch a run that hangs before its first step never alerts.
    ("TrainingStalled (hangs before its first step)",
     "time() - curvewatch_run_start_time_seconds", "0 * curvewatch_run_start_time_seconds"),
    # Without a threshold a noisy validation plateau drifting up counts as overfitting.
    ("Overfitting", "\n          > 1.05\n", "\n          > 1\n"),
    # The old baseline, the rate over the last hour: it divides by 3600 s for a young run, which never fires.
    ("ThroughputDropped (young run, stays firing while slow)",
     "max_over_time(rate(curvewatch_steps_total{job=\"curvewatch\"}[5m])[6h:60s])",
     "rate(curvewatch_steps_total{job=\"curvewatch\"}[1h])"),
    # A baseline over a window that follows the slowdown resolves while the run is still slow.
    ("ThroughputDropped (young run, stays firing while slow)", "[6h:60s]", "[20m:60s]"),
    # Without the current-series check every run ever seen running counts as vanished.
    ("RunVanished", "\n          unless on (run_id, rank)\n          curvewatch_run_state{job=\"curvewatch\"}", ""),
    # Matched on the instance too, a run resumed on another port counts as vanished.
    ("RunVanished", "unless on (run_id, rank)", "unless on (job, instance, run_id, rank)"),
    # Without the window a failed run's alert ends with its series, before Alertmanager may have it.
    ("RunFailed (still firing after the run's series are gone)", "state=\"failed\"}[15m])", "state=\"failed\"}[1m])"),
    # Without the target file's run id TargetDown cannot say which run went away.
    ("TargetDown", '"run_id", "$1", "curvewatch_run_id"', '"run_id", "$1", "curvewatch_rank"'),
]


@pytest.mark.parametrize(("group", "old", "new"), _RULE_MUTATIONS,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(_RULE_MUTATIONS)])
def test_promtool_rule_tests_fail_when_an_alert_rule_is_wrong(tmp_path: Path, group: str, old: str, new: str) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(REPO / "prometheus", copy)
    rules = copy / "rules" / Path(ALERT_RULES_FILE).name
    text = rules.read_text()
    assert old in text, f"the mutation for {group} no longer matches the generated rules"
    rules.write_text(text.replace(old, new, 1))
    _ok(_run("promtool", "check", "rules", rules))
    result = _run("promtool", "test", "rules", copy / "tests" / Path(RULE_TESTS_FILE).name)
    assert result.returncode != 0
    assert f"name: {ALERT_PREFIX}{group}," in result.stdout + result.stderr


def test_rule_tests_cover_late_nan_counters_hangs_noisy_plateaus_and_young_slow_runs() -> None:
    tests = {t["name"]: t for t in yaml.safe_load((REPO / RULE_TESTS_FILE).read_text())["tests"]}
    late = tests[f"{ALERT_PREFIX}NonFiniteValues (counter above 0 at its first scrape)"]
    assert [s["values"].split()[0] for s in late["input_series"]] == ["_x30", "_x30"]
    hang = tests[f"{ALERT_PREFIX}TrainingStalled (hangs before its first step)"]
    bad = [s["series"] for s in hang["input_series"] if 'run_id="bad"' in s["series"]]
    assert bad and not any(s.startswith("curvewatch_last_step_timestamp_seconds") for s in bad)
    overfitting = tests[f"{ALERT_PREFIX}Overfitting"]
    assert any('run_id="noisy"' in s["series"] for s in overfitting["input_series"])
    young = tests[f"{ALERT_PREFIX}ThroughputDropped (young run, stays firing while slow)"]
    *_, after, later = young["alert_rule_test"]
    assert duration_seconds(later["eval_time"]) - duration_seconds(after["eval_time"]) >= 1800 and later["exp_alerts"]
    for test in (late, hang, overfitting, young):
        assert test["alert_rule_test"][1]["exp_alerts"][0]["exp_labels"]["run_id"] == "bad"


def _compose_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"GRAFANA_ADMIN_PASSWORD", "CURVEWATCH_WEBHOOK_URL"}}
    return {**env, **extra}


def test_docker_compose_config_is_valid() -> None:
    _ok(_run("docker-compose", "-f", REPO / COMPOSE_FILE, "config", "-q",
             env=_compose_env(GRAFANA_ADMIN_PASSWORD="x", CURVEWATCH_REGISTRY_PASSWORD="x",
                              CURVEWATCH_GRAFANA_DB_PASSWORD="x")))


def test_docker_compose_refuses_to_start_without_an_admin_password() -> None:
    result = _run("docker-compose", "-f", REPO / COMPOSE_FILE, "config", "-q", env=_compose_env())
    assert result.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in result.stderr


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / COMPOSE_FILE).read_text())


def test_compose_binds_ports_to_localhost_and_pins_images(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"prometheus", "alertmanager", "pushgateway", "grafana", "trainer", "registry-db"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name} image {image} is not pinned"


def test_compose_webhook_placeholder_is_reachable_from_the_containers(compose: dict) -> None:
    url = yaml.safe_load((REPO / ALERTMANAGER_FILE).read_text())["receivers"][0]["webhook_configs"][0]["url"]
    assert url == DEFAULT_CONFIG.webhook_url and url.startswith(f"http://{DOCKER_HOST_NAME}:")
    services = compose["services"]
    assert url in services["grafana"]["environment"][DEFAULT_CONFIG.webhook_url_env]
    for name in ("alertmanager", "grafana"):
        assert services[name]["extra_hosts"] == [f"{DOCKER_HOST_NAME}:host-gateway"], name
    assert all(service["restart"] == "unless-stopped" for name, service in services.items() if name != "trainer")


def test_compose_keeps_lifecycle_closed_data_in_volumes_healthchecks_and_usable_alert_links(compose: dict) -> None:
    services = compose["services"]
    commands = " ".join(" ".join(service.get("command", [])) for service in services.values())
    assert "--web.enable-lifecycle" not in commands and "--web.enable-admin-api" not in commands
    assert f"--web.external-url={DEFAULT_CONFIG.prometheus_external_url}" in services["prometheus"]["command"]
    assert f"--web.external-url={DEFAULT_CONFIG.alertmanager_external_url}" in services["alertmanager"]["command"]
    for name, path in (("prometheus", "/prometheus"), ("alertmanager", "/alertmanager"),
                       ("pushgateway", "/pushgateway"), ("grafana", "/var/lib/grafana")):
        assert any(v.endswith(f"-data:{path}") for v in services[name]["volumes"]), name
    assert "--persistence.file=/pushgateway/metrics.store" in services["pushgateway"]["command"]
    assert all(service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") for service in services.values())
    assert all(condition == {"condition": "service_healthy"} for service in services.values()
               for condition in service.get("depends_on", {}).values())
    assert "prometheus" in services["grafana"]["depends_on"]
    runbook = next(v for v in services["grafana"]["volumes"] if v.startswith("./prometheus/runbook.md:"))
    assert DEFAULT_CONFIG.runbook_url.endswith(runbook.split(":")[1].removeprefix("/usr/share/grafana"))


def test_compose_demo_trainer_runs_once(compose: dict) -> None:
    trainer = compose["services"]["trainer"]
    assert trainer["restart"] == "no"
    linger = float(trainer["command"][trainer["command"].index("--linger") + 1])
    assert 0 < linger <= 3600


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
    assert text.index("torch==2.13.0") < text.index("pip install --no-cache-dir \".[trainers,postgres]\"")
    assert '"curvewatch", "train"' in text
    # The compiled log buffer is built (gcc present while pip installs, setup.py in the build context) and checked.
    install = text.index("pip install --no-cache-dir \".[trainers,postgres]\"")
    assert text.index("apt-get install -y --no-install-recommends gcc") < install
    assert 'python -c "import curvewatch.recorder._clogbuf"' in text
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "!setup.py" in ignore and "!exporter/" in ignore
