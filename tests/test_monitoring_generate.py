"""The monitoring bundle is generated from one config: committed output, CLI, overrides, alert shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from curvewatch.cli import main
from curvewatch.monitoring import (
    ALERT_PREFIX,
    DEFAULT_CONFIG,
    alerts,
    check_files,
    duration_seconds,
    generate_files,
)
from curvewatch.monitoring.prometheus_files import ALERT_RULES_FILE

REPO = Path(__file__).resolve().parents[1]
RUNBOOK = REPO / "prometheus" / "runbook.md"
SEVERITIES = {DEFAULT_CONFIG.severity_critical, DEFAULT_CONFIG.severity_warning, DEFAULT_CONFIG.severity_info}


def test_committed_files_equal_the_generator_output() -> None:
    stale = check_files(REPO, generate_files())
    assert stale == [], f"Run `curvewatch monitoring generate` and commit: {stale}"


def test_generation_is_deterministic() -> None:
    assert generate_files() == generate_files()


def test_cli_generate_writes_and_check_finds_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["monitoring", "generate", "--root", str(tmp_path)]) == 0
    assert main(["monitoring", "generate", "--root", str(tmp_path), "--check"]) == 0
    edited = tmp_path / ALERT_RULES_FILE
    edited.write_text(edited.read_text().replace("for: 5m", "for: 6m"))
    capsys.readouterr()
    assert main(["monitoring", "generate", "--root", str(tmp_path), "--check"]) == 1
    assert ALERT_RULES_FILE in capsys.readouterr().err


def test_cli_set_overrides_a_threshold(tmp_path: Path) -> None:
    assert main(["monitoring", "generate", "--root", str(tmp_path), "--set", "stall_seconds=42",
                 "--set", "stall_for=90s"]) == 0
    rules = yaml.safe_load((tmp_path / ALERT_RULES_FILE).read_text())["groups"][0]["rules"]
    stalled = next(r for r in rules if r["alert"] == f"{ALERT_PREFIX}TrainingStalled")
    assert "> 42\n" in stalled["expr"] and stalled["for"] == "90s"


@pytest.mark.parametrize(("argument", "message"), [
    ("no_such_field=1", "not a monitoring config field"),
    ("stall_for=5 minutes", "not a Prometheus duration"),
    ("throughput_fraction=2", "between 0 and 1"),
    ("stall_seconds", "NAME=VALUE"),
])
def test_cli_rejects_bad_overrides_with_a_sentence(argument: str, message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["monitoring", "generate", "--root", str(tmp_path), "--set", argument]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_with_overrides_converts_strings_to_the_field_type() -> None:
    config = DEFAULT_CONFIG.with_overrides({"no_improvement_steps": "12", "divergence_factor": "4.5",
                                            "run_labels": "job,run_id"})
    assert (config.no_improvement_steps, config.divergence_factor, config.run_labels) == (12, 4.5, ("job", "run_id"))


@pytest.mark.parametrize(("duration", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25)])
def test_duration_seconds(duration: str, seconds: float) -> None:
    assert duration_seconds(duration) == seconds


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a.name)
def test_every_alert_has_one_shape(alert) -> None:
    assert re.fullmatch(rf"{ALERT_PREFIX}(?:[A-Z][a-z]+)+", alert.name)
    assert duration_seconds(alert.for_) > 0
    assert alert.labels == {"severity": alert.severity} and alert.severity in SEVERITIES
    assert alert.summary.endswith(".") and alert.summary.count(".") == 1 and "{{" not in alert.summary
    assert "{{ $labels." in alert.description and alert.description.endswith(".")
    url = alert.annotations(DEFAULT_CONFIG)["runbook_url"]
    assert url == f"{DEFAULT_CONFIG.runbook_url}#{alert.name.lower()}"
    assert url.split("#")[1] in _runbook_anchors(), f"prometheus/runbook.md has no section {alert.name}"


def test_alerts_cover_the_issue_list() -> None:
    names = {a.name.removeprefix(ALERT_PREFIX) for a in alerts()}
    assert names >= {"NonFiniteValues", "LossDiverging", "Overfitting", "NoImprovement", "TrainingStalled",
                     "ThroughputDropped", "TargetDown"}


def test_thresholds_and_windows_come_from_the_config() -> None:
    config = DEFAULT_CONFIG.with_overrides({"divergence_factor": "7", "no_improvement_steps": "123",
                                            "trend_window": "2h", "trainer_job": "mine"})
    by_name = {a.name.removeprefix(ALERT_PREFIX): a for a in alerts(config)}
    assert "> 7\n" in by_name["LossDiverging"].expr and "limit 7" in by_name["LossDiverging"].description
    assert "> 123\n" in by_name["NoImprovement"].expr
    assert 'deriv(curvewatch_value{job="mine", metric="train_mse"}[2h])' in by_name["Overfitting"].expr
    assert 'up{job="mine"} == 0' in by_name["TargetDown"].expr


def test_every_selector_follows_the_job_name_and_extra_selector() -> None:
    from curvewatch.monitoring import Queries

    config = DEFAULT_CONFIG.with_overrides({"trainer_job": "team-a", "selector": 'cluster="x"'})
    exprs = [a.expr for a in alerts(config)] + [r.expr for r in Queries(config).recording_rules()]
    for expr in exprs:
        for selector in re.findall(r"\b(?:curvewatch_[a-z_]+|up)\{[^}]*\}", expr):
            assert selector.split("{")[1].startswith('job="team-a", cluster="x"'), selector
    assert 'job="curvewatch"' not in "".join(generate_files(config).values()).replace(
        "curvewatch-pushgateway", "")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"example_target_labels": "host=gpu-1"}, r"\['host'\] collide with curvewatch's own labels"),
    ({"example_target_labels": "run_id=x,site=a"}, r"\['run_id'\] collide"),
    ({"runbook_url": "prometheus/runbook.md"}, "runbook_url must be an absolute http"),
    ({"alerting": "both"}, "alerting can be prometheus, grafana"),
])
def test_config_refuses_colliding_example_labels_relative_runbooks_and_two_alerting_paths(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        DEFAULT_CONFIG.with_overrides(overrides)
