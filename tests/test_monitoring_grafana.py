"""Grafana files: dashboards valid against the 11.6 JSON schema, provisioning consistent, alert rules equivalent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from curvewatch.monitoring import DEFAULT_CONFIG, alerts, generate_files
from curvewatch.monitoring.compose import COMPOSE_FILE
from curvewatch.monitoring.dashboards import PROMETHEUS_DASHBOARD_FILES
from curvewatch.monitoring.grafana_files import (
    ALERT_RULES_PROVISIONING,
    CONTACT_POINTS_PROVISIONING,
    DASHBOARDS_IN_CONTAINER,
    DASHBOARDS_PROVISIONING,
    DATASOURCES_PROVISIONING,
    IMPORT_DIR,
    alerting_path,
)
from curvewatch.monitoring.prometheus_files import PROMETHEUS_FILE

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "tests" / "schemas" / "grafana-11.6"  # vendored: see its README.md
# The live dashboards (Prometheus); dashboards on another datasource are checked by their own tests.
BOARD_PATHS = [REPO / p for p in PROMETHEUS_DASHBOARD_FILES.values()]
IMPORT_PATHS = [REPO / IMPORT_DIR / f"{uid}.json" for uid in PROMETHEUS_DASHBOARD_FILES]
ALERT_RULES = alerting_path(DEFAULT_CONFIG, ALERT_RULES_PROVISIONING)
CONTACT_POINTS = alerting_path(DEFAULT_CONFIG, CONTACT_POINTS_PROVISIONING)
DATASOURCE = "${datasource}"


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
    """Every panel of every dashboard except rows (which hold no query)."""
    return [(p.stem, panel) for p in BOARD_PATHS for panel in json.loads(p.read_text())["panels"]
            if panel["type"] != "row"]


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
    assert all(t["expr"] and t["datasource"]["uid"] == DATASOURCE for t in panel["targets"])


@pytest.mark.parametrize(("board", "panel"), _panels(), ids=lambda v: v if isinstance(v, str) else v["title"])
def test_stats_are_instant_and_time_panels_show_gaps(board: str, panel: dict) -> None:
    if panel["type"] in ("stat", "table"):
        assert all(t["instant"] and not t["range"] for t in panel["targets"]), panel["title"]
    if panel["type"] == "timeseries":
        assert panel["fieldConfig"]["defaults"]["custom"]["spanNulls"] is False, panel["title"]


def _boards() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in BOARD_PATHS}


def test_dashboards_have_the_issue_layout() -> None:
    boards = _boards()
    detail = boards["curvewatch-run-detail"]
    names = [v["name"] for v in detail["templating"]["list"]]
    assert names == ["datasource", "job", "cluster", "experiment", "model_type", "host", "rank", "run_id", "chart"]
    titles = {p["title"] for p in detail["panels"]}
    assert {"Run metadata", "Best values", "Started", "Throughput", "Non-finite values", "$chart",
            "$chart against step"} <= titles
    compare = {v["name"]: v for v in boards["curvewatch-compare-runs"]["templating"]["list"]}
    assert compare["run_ids"]["multi"] and compare["run_ids"]["includeAll"]
    compare_titles = {p["title"] for p in boards["curvewatch-compare-runs"]["panels"]}
    assert {"$metric by run", "$metric against step"} <= compare_titles
    overview_titles = {p["title"] for p in boards["curvewatch-overview"]["panels"]}
    assert {"Runs", "Alerts firing", "Runs failed"} <= overview_titles


def test_every_dashboard_takes_its_datasource_job_and_filters_from_variables() -> None:
    for uid, board in _boards().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        assert variables["job"]["current"]["value"] == DEFAULT_CONFIG.trainer_job
        assert {"cluster", "experiment", "model_type", "host", "rank"} <= set(variables), uid
        text = json.dumps(board)
        assert DEFAULT_CONFIG.datasource_uid not in text and 'job=\\"curvewatch\\"' not in text, uid
        for _, panel in ((uid, p) for p in board["panels"] if p["type"] != "row"):
            for target in panel["targets"]:
                # Every query follows $job and the run filters (ALERTS: $job only).
                assert 'job=~"$job"' in target["expr"], (uid, panel["title"], target["expr"])
                on = re.escape('and on (' + ', '.join(DEFAULT_CONFIG.run_labels) + ') ')
                assert re.search(on + r"(last_over_time\()?curvewatch_run_info\{",
                                 target["expr"]) \
                    or target["expr"].startswith("count(ALERTS"), (uid, panel["title"], target["expr"])


def test_curves_are_repeated_per_chart_or_metric_and_assume_no_metric_name() -> None:
    boards = _boards()
    rows = {uid: [p for p in b["panels"] if p["type"] == "row"] for uid, b in boards.items()}
    assert [r["repeat"] for r in rows["curvewatch-run-detail"]] == ["chart"]
    assert [r["repeat"] for r in rows["curvewatch-compare-runs"]] == ["metric"]
    for uid, board in boards.items():
        text = json.dumps(board)
        for name in (DEFAULT_CONFIG.val_metric, DEFAULT_CONFIG.train_metric, "mape", "r2"):
            assert f'\\"{name}\\"' not in text, f"{uid} assumes the metric {name}"


def test_step_panels_join_value_and_step_into_an_xy_chart() -> None:
    for uid, partition in (("curvewatch-run-detail", ["metric", "rank"]), ("curvewatch-compare-runs",
                                                                              ["run_id", "rank"])):
        (xy,) = [p for p in _boards()[uid]["panels"] if p["type"] == "xychart"]
        value, step = xy["targets"]
        assert value["format"] == step["format"] == "table" and value["range"] and step["range"]
        assert "curvewatch_step" in step["expr"] and "group_right" in step["expr"]
        assert [t["id"] for t in xy["transformations"]] == ["merge", "organize", "partitionByValues"]
        assert xy["transformations"][2]["options"]["fields"] == partition
        series = xy["options"]["series"][0]
        assert series["x"]["matcher"]["options"]["names"] == ["step"]
        assert series["y"]["matcher"]["options"]["names"] == ["value"]


def test_runs_table_links_each_run_to_run_detail_and_time_panels_show_alerts() -> None:
    boards = _boards()
    (table,) = [p for p in boards["curvewatch-overview"]["panels"] if p["title"] == "Runs"]
    (link,) = table["fieldConfig"]["defaults"]["links"]
    assert link["url"].startswith("/d/curvewatch-run-detail/") and "var-run_id=${__data.fields.run_id}" in link["url"]
    assert "${datasource:queryparam}" in link["url"] and "${job:queryparam}" in link["url"]
    for uid in ("curvewatch-run-detail", "curvewatch-compare-runs"):
        annotation = boards[uid]["annotations"]["list"][0]
        assert annotation["enable"] and annotation["expr"].startswith('ALERTS{alertstate="firing"')
    # the run's spike events too (signal_alerts.spike_annotation; it returns data: test_monitoring_live)
    assert [a["name"] for a in boards["curvewatch-run-detail"]["annotations"]["list"][1:]] == ["curvewatch spikes"]
    assert len(boards["curvewatch-compare-runs"]["annotations"]["list"]) == 1


def test_refresh_is_never_faster_than_the_scrape() -> None:
    from curvewatch.monitoring import duration_seconds

    for board in _boards().values():
        assert duration_seconds(board["refresh"]) >= duration_seconds(DEFAULT_CONFIG.scrape_interval)
    with pytest.raises(ValueError, match="faster than scrape_interval 15s"):
        DEFAULT_CONFIG.with_overrides({"dashboard_refresh": "10s"})


def test_import_copies_ask_for_a_prometheus_and_validate_without_their_envelope(tmp_path: Path) -> None:
    stripped = []
    for path, board_path in zip(IMPORT_PATHS, BOARD_PATHS, strict=True):
        board = json.loads(path.read_text())
        inputs = board.pop("__inputs")
        requires = board.pop("__requires")
        assert inputs == [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": inputs[0]["description"],
                           "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}]
        assert {r["id"] for r in requires} >= {"grafana", "prometheus"}
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["current"]["value"] == "${DS_PROMETHEUS}"
        provisioned = json.loads(board_path.read_text())
        assert board["panels"] == provisioned["panels"]
        stripped.append(tmp_path / path.name)
        stripped[-1].write_text(json.dumps(board))
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(_schema("dashboard.jsonschema.json")),
         *map(str, stripped)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_references_only_existing_dashboards_and_datasources() -> None:
    datasources = _load(DATASOURCES_PROVISIONING)["datasources"]
    uids = {d["uid"] for d in datasources}
    assert uids == {DEFAULT_CONFIG.datasource_uid} and datasources[0]["isDefault"]  # what ${datasource} picks
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
        refs = [t["datasource"]["uid"] for p in board["panels"] for t in p.get("targets", [])]
        refs += [p["datasource"]["uid"] for p in board["panels"] if p["type"] != "row"]
        refs += [v["datasource"]["uid"] for v in board["templating"]["list"] if v["type"] != "datasource"]
        refs += [a["datasource"]["uid"] for a in board["annotations"].get("list", [])]
        assert set(refs) == {DATASOURCE}, f"{path.name} references datasources {set(refs) - {DATASOURCE}}"
    for rule in _load(ALERT_RULES)["groups"][0]["rules"]:
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
    group = _load(ALERT_RULES)["groups"][0]
    assert group["folder"] == DEFAULT_CONFIG.grafana_folder and group["orgId"] == 1
    for rule in group["rules"]:
        validator.validate(rule)


def test_grafana_alert_rules_are_the_prometheus_alerts() -> None:
    rules = {r["title"]: r for r in _load(ALERT_RULES)["groups"][0]["rules"]}
    assert set(rules) == {a.name for a in alerts()}
    for alert in alerts():
        rule = rules[alert.name]
        query = next(q for q in rule["data"] if q["refId"] == "A")
        assert query["model"]["expr"] == alert.expr and query["model"]["instant"] is True
        assert "curvewatch:" not in alert.expr, f"{alert.name} depends on a recording rule Grafana cannot see"
        assert rule["condition"] == "B" and rule["for"] == alert.for_ and rule["labels"] == alert.labels
        expected = alert.annotations(DEFAULT_CONFIG)
        expected["description"] = expected["description"].replace("$value ", "$values.A.Value ")
        assert rule["annotations"] == expected
        assert rule["noDataState"] == "OK" and rule["execErrState"] == "Error"


def test_contact_point_url_comes_from_the_environment() -> None:
    spec = _load(CONTACT_POINTS)
    receiver = spec["contactPoints"][0]["receivers"][0]
    env_name = DEFAULT_CONFIG.webhook_url_env
    assert receiver["type"] == "webhook" and receiver["settings"]["url"] == f"${{{env_name}}}"
    assert spec["policies"][0]["receiver"] == spec["contactPoints"][0]["name"]
    grafana_env = _load(COMPOSE_FILE)["services"]["grafana"]["environment"]
    assert env_name in grafana_env
    assert "GRAFANA_ADMIN_PASSWORD:?" in grafana_env["GF_SECURITY_ADMIN_PASSWORD"]


def test_one_alerting_path_by_default_and_grafana_managed_as_the_alternative() -> None:
    assert not (REPO / ALERT_RULES_PROVISIONING).exists() and not (REPO / CONTACT_POINTS_PROVISIONING).exists()
    assert "NOT provisioned" in (REPO / ALERT_RULES).read_text()
    assert _load(PROMETHEUS_FILE)["alerting"]["alertmanagers"]
    grafana = generate_files(DEFAULT_CONFIG.with_overrides({"alerting": "grafana"}))
    assert ALERT_RULES_PROVISIONING in grafana and CONTACT_POINTS_PROVISIONING in grafana
    assert ALERT_RULES not in grafana and "NOT provisioned" not in grafana[ALERT_RULES_PROVISIONING]
    assert "alerting" not in yaml.safe_load(grafana[PROMETHEUS_FILE]), "both paths would notify"
    with pytest.raises(ValueError, match="alerting can be prometheus, grafana, got 'both'"):
        DEFAULT_CONFIG.with_overrides({"alerting": "both"})
