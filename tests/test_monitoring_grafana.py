"""Grafana files: dashboards valid against the 11.6 JSON schema, provisioning consistent, alert rules equivalent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from curvewatch.monitoring import DEFAULT_CONFIG, alerts
from curvewatch.monitoring.compose import COMPOSE_FILE
from curvewatch.monitoring.dashboards import DASHBOARD_FILES
from curvewatch.monitoring.grafana_files import (
    ALERT_RULES_PROVISIONING,
    CONTACT_POINTS_PROVISIONING,
    DASHBOARDS_IN_CONTAINER,
    DASHBOARDS_PROVISIONING,
    DATASOURCES_PROVISIONING,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "tests" / "schemas" / "grafana-11.6"  # vendored: see its README.md
BOARD_PATHS = [REPO / p for p in DASHBOARD_FILES.values()]


def _schema(name: str) -> Path:
    """A schema file of ``tests/schemas/grafana-11.6/``; fails (never skips) when it is missing."""
    path = SCHEMAS / name
    if not path.is_file():
        pytest.fail(f"The Grafana 11.6 JSON schemas must be in tests/schemas/grafana-11.6/ ({SCHEMAS}); {name} is "
                    f"missing there. Copy it unchanged from grafana-foundation-sdk (see that folder's README.md).")
    return path


def _load(relative: str) -> Any:
    text = (REPO / relative).read_text()
    return json.loads(text) if relative.endswith(".json") else yaml.safe_load(text)


def _validator(schema_file: str, definition: str | None = None) -> jsonschema.Draft7Validator:
    schema = json.loads(_schema(schema_file).read_text())
    if definition is not None:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    return jsonschema.Draft7Validator(schema)


def _panels() -> list[tuple[str, dict]]:
    return [(p.stem, panel) for p in BOARD_PATHS for panel in json.loads(p.read_text())["panels"]]


def test_dashboards_validate_with_check_jsonschema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(_schema("dashboard.jsonschema.json")),
         *map(str, BOARD_PATHS)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_jsonschema_rejects_a_broken_dashboard(tmp_path: Path) -> None:
    board = json.loads(BOARD_PATHS[0].read_text())
    board["panels"][0]["gridPos"]["w"] = "wide"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(board))
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(_schema("dashboard.jsonschema.json")),
         str(broken)], capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    # The failure is the schema violation itself, not a missing schema or a crash.
    assert "Schema validation errors were encountered" in output, output
    assert "$.panels[0].gridPos.w: 'wide' is not of type 'integer'" in output, output


def test_a_missing_schema_fails_with_where_the_schemas_must_be() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"must be in tests/schemas/grafana-11\.6/") as failed:
        _schema("no-such-panel.jsonschema.json")
    assert "no-such-panel.jsonschema.json is missing" in str(failed.value)


@pytest.mark.parametrize(("board", "panel"), _panels(), ids=lambda v: v if isinstance(v, str) else v["title"])
def test_panel_options_targets_and_field_config_follow_the_plugin_schemas(board: str, panel: dict) -> None:
    _validator(f"{panel['type']}.jsonschema.json", "Options").validate(panel["options"])
    custom = panel["fieldConfig"]["defaults"].get("custom")
    if custom is not None:
        _validator(f"{panel['type']}.jsonschema.json", "FieldConfig").validate(custom)
    for target in panel["targets"]:
        _validator("prometheus.jsonschema.json").validate(target)


@pytest.mark.parametrize(("board", "panel"), _panels(), ids=lambda v: v if isinstance(v, str) else v["title"])
def test_every_panel_has_a_unit_thresholds_description_and_a_query(board: str, panel: dict) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults.get("unit") and defaults["thresholds"]["steps"], panel["title"]
    assert panel["description"].endswith(".") and panel["targets"]
    assert all(t["expr"] and t["datasource"]["uid"] == DEFAULT_CONFIG.datasource_uid for t in panel["targets"])


def test_dashboards_have_the_issue_layout() -> None:
    boards = {p.stem: json.loads(p.read_text()) for p in BOARD_PATHS}
    detail = boards["curvewatch-run-detail"]
    assert [v["name"] for v in detail["templating"]["list"]] == ["run_id"]
    titles = {p["title"] for p in detail["panels"]}
    assert {"Loss: train vs validation", "Learning rate", "Throughput", "Non-finite values"} <= titles
    compare = boards["curvewatch-compare-runs"]["templating"]["list"][0]
    assert compare["multi"] and compare["includeAll"]
    overview_titles = {p["title"] for p in boards["curvewatch-overview"]["panels"]}
    assert {"Runs", "Alerts firing"} <= overview_titles
    assert all(b["refresh"] == DEFAULT_CONFIG.dashboard_refresh for b in boards.values())


def test_provisioning_references_only_existing_dashboards_and_datasources() -> None:
    datasources = _load(DATASOURCES_PROVISIONING)["datasources"]
    uids = {d["uid"] for d in datasources}
    assert uids == {DEFAULT_CONFIG.datasource_uid}
    provider = _load(DASHBOARDS_PROVISIONING)["providers"][0]
    assert provider["options"]["path"] == DASHBOARDS_IN_CONTAINER
    grafana = _load(COMPOSE_FILE)["services"]["grafana"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in grafana["volumes"] if v.startswith("./"))
    assert mounts["./grafana/dashboards"] == DASHBOARDS_IN_CONTAINER
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO / "grafana" / "dashboards" / Path(home).name).is_file()
    for path in BOARD_PATHS:
        board = json.loads(path.read_text())
        refs = [t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]]
        refs += [p["datasource"]["uid"] for p in board["panels"]]
        refs += [v["datasource"]["uid"] for v in board["templating"].get("list", [])]
        assert set(refs) <= uids, f"{path.name} references datasources {set(refs) - uids}"
    for rule in _load(ALERT_RULES_PROVISIONING)["groups"][0]["rules"]:
        assert {q["datasourceUid"] for q in rule["data"]} <= uids | {"__expr__"}


def test_provisioned_dashboard_uids_are_unique_and_match_their_file_names() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in BOARD_PATHS]
    assert uids == [p.stem for p in BOARD_PATHS] and len(set(uids)) == len(uids)


def test_grafana_alert_rules_validate_against_the_alerting_schema() -> None:
    schema = json.loads(_schema("alerting.jsonschema.json").read_text())
    rule_schema = dict(schema["definitions"]["Rule"])
    # A provisioning file gives org, folder and group per group (the schema describes the HTTP API).
    rule_schema["required"] = [r for r in rule_schema["required"] if r not in {"orgID", "folderUID", "ruleGroup"}]
    validator = jsonschema.Draft7Validator({**rule_schema, "definitions": schema["definitions"]})
    group = _load(ALERT_RULES_PROVISIONING)["groups"][0]
    assert group["folder"] == DEFAULT_CONFIG.grafana_folder and group["orgId"] == 1
    for rule in group["rules"]:
        validator.validate(rule)


def test_grafana_alert_rules_are_the_prometheus_alerts() -> None:
    rules = {r["title"]: r for r in _load(ALERT_RULES_PROVISIONING)["groups"][0]["rules"]}
    assert set(rules) == {a.name for a in alerts()}
    for alert in alerts():
        rule = rules[alert.name]
        query = next(q for q in rule["data"] if q["refId"] == "A")
        assert query["model"]["expr"] == alert.expr and query["model"]["instant"] is True
        assert rule["condition"] == "B" and rule["for"] == alert.for_ and rule["labels"] == alert.labels
        expected = alert.annotations(DEFAULT_CONFIG)
        expected["description"] = expected["description"].replace("$value ", "$values.A.Value ")
        assert rule["annotations"] == expected
        assert rule["noDataState"] == "OK" and rule["execErrState"] == "Error"


def test_contact_point_url_comes_from_the_environment() -> None:
    spec = _load(CONTACT_POINTS_PROVISIONING)
    receiver = spec["contactPoints"][0]["receivers"][0]
    env_name = DEFAULT_CONFIG.webhook_url_env
    assert receiver["type"] == "webhook" and receiver["settings"]["url"] == f"${{{env_name}}}"
    assert spec["policies"][0]["receiver"] == spec["contactPoints"][0]["name"]
    grafana_env = _load(COMPOSE_FILE)["services"]["grafana"]["environment"]
    assert env_name in grafana_env
    assert "GRAFANA_ADMIN_PASSWORD:?" in grafana_env["GF_SECURITY_ADMIN_PASSWORD"]
