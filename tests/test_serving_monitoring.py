"""The served-version alerts and dashboard as generated: runbook sections, alert shape, Grafana schema, import copy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from curvewatch.monitoring import DEFAULT_CONFIG
from curvewatch.monitoring.grafana_files import ALERT_RULES_PROVISIONING, IMPORT_DIR, alerting_path
from curvewatch.monitoring.prometheus_files import ALERT_RULES_FILE
from curvewatch.monitoring.serving_alerts import SERVING_ALERT_GROUP, serving_alerts
from curvewatch.monitoring.serving_dashboard import SERVING_DASHBOARD_FILE, SERVING_DASHBOARD_UID

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "tests" / "schemas" / "grafana-11.6" / "dashboard.jsonschema.json"
ISSUE_ALERTS = {"CurvewatchModelDegraded", "CurvewatchFeatureDrift", "CurvewatchPredictionLatencyHigh",
                "CurvewatchActualsMissing"}


def test_every_served_version_alert_has_the_common_shape_and_a_runbook_section() -> None:
    headings = re.findall(r"^#+ (.+)$", (REPO / "prometheus" / "runbook.md").read_text(), flags=re.MULTILINE)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
    alerts = serving_alerts()
    assert {a.name for a in alerts} == ISSUE_ALERTS
    for alert in alerts:
        assert alert.summary.endswith(".") and alert.description.endswith(".") and alert.for_
        assert "{{ $labels.identifier }} v{{ $labels.model_version }} ({{ $labels.role }})" in alert.description
        assert alert.runbook_url(DEFAULT_CONFIG).split("#")[1] in anchors, alert.name


def test_the_rules_file_and_the_grafana_copy_hold_the_served_version_group() -> None:
    groups = yaml.safe_load((REPO / ALERT_RULES_FILE).read_text())["groups"]
    assert groups[1]["name"] == SERVING_ALERT_GROUP and {r["alert"] for r in groups[1]["rules"]} == ISSUE_ALERTS
    grafana = yaml.safe_load((REPO / alerting_path(DEFAULT_CONFIG, ALERT_RULES_PROVISIONING)).read_text())["groups"]
    assert {r["title"] for r in grafana[1]["rules"]} == ISSUE_ALERTS


def test_the_served_versions_dashboard_validates_and_has_an_import_copy() -> None:
    board_path, import_path = REPO / SERVING_DASHBOARD_FILE, REPO / IMPORT_DIR / f"{SERVING_DASHBOARD_UID}.json"
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), str(board_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    board, copy = json.loads(board_path.read_text()), json.loads(import_path.read_text())
    assert copy["__inputs"][0]["pluginId"] == "prometheus" and copy["panels"] == board["panels"]
    titles = {p["title"] for p in board["panels"]}
    assert {"Versions side by side", "Traffic", "Latency p50 and p99", "Live MAE and validation MAE",
            "Drift: PSI per feature"} <= titles
    for panel in board["panels"]:
        assert panel["description"].endswith(".") and panel["fieldConfig"]["defaults"]["unit"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


@pytest.mark.parametrize("override", [{"degraded_factor": "1"}, {"drift_psi": "0"}, {"actuals_delay": "a day"}])
def test_bad_serving_thresholds_are_refused_with_a_sentence(override: dict) -> None:
    with pytest.raises(ValueError, match=r"\.$|duration"):
        DEFAULT_CONFIG.with_overrides(override)
