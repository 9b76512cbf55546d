"""The archive dashboards: valid against the Grafana 11.6 schemas, provisioned with the registry datasource, and
every panel and variable SQL run as the read-only role against a real PostgreSQL holding real training runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from curvewatch.archive import ModelArchive, ModelKey
from curvewatch.archive.read_model import READER_ROLE
from curvewatch.monitoring.archive_dashboards import (
    ARCHIVE_CONFIG,
    ARCHIVE_DASHBOARD_FILES,
    ARCHIVE_DATASOURCE_FILE,
    INITDB_FILE,
)
from curvewatch.monitoring.compose import COMPOSE_FILE
from test_monitoring_grafana import _validator  # the vendored schemas, failing (never skipping) when missing
from views_training import commit_large, train_and_commit

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "tests" / "schemas" / "grafana-11.6"
BOARDS = {uid: json.loads((REPO / path).read_text()) for uid, path in ARCHIVE_DASHBOARD_FILES.items()}
LIN = ModelKey.product("P001", model_type="lin")
BIG = ModelKey.product("P002", model_type="big")
PANEL_BUDGET_S = 1.0  # a panel query on the 4000 x 10 version answers well under this


def _panels() -> list[tuple[str, dict]]:
    return [(uid, panel) for uid, board in BOARDS.items() for panel in board["panels"]]


def test_archive_dashboards_validate_with_check_jsonschema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMAS / "dashboard.jsonschema.json"),
         *(str(REPO / p) for p in ARCHIVE_DASHBOARD_FILES.values())], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("board", "panel"), _panels(), ids=lambda v: v if isinstance(v, str) else v["title"])
def test_panel_options_and_field_config_follow_the_plugin_schemas(board: str, panel: dict) -> None:
    plugin = f"{panel['type']}.jsonschema.json"
    _validator(plugin, "Options").validate(panel["options"])
    if (custom := panel["fieldConfig"]["defaults"].get("custom")) is not None:
        _validator(plugin, "FieldConfig").validate(custom)
    assert panel["description"].endswith(".") and panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    for target in panel["targets"]:
        assert target["datasource"] == {"type": "grafana-postgresql-datasource", "uid": ARCHIVE_CONFIG.datasource_uid}
        assert target["format"] == "table" and target["rawQuery"] and target["rawSql"].startswith("SELECT")


def test_step_panels_use_a_numeric_x_axis_and_one_series_per_line() -> None:
    trends = [p for _, p in _panels() if p["type"] == "trend"]
    assert len(trends) == 4
    for panel in trends:
        assert panel["options"]["xField"] == "step" and panel["repeat"] in panel["title"]
        assert panel["transformations"][0]["id"] == "partitionByValues"
    scales = {p["repeat"]: p["fieldConfig"]["defaults"]["custom"].get("scaleDistribution", {}).get("type")
              for p in trends}
    assert scales == {"log_chart": "log", "linear_chart": None, "log_metric": "log", "linear_metric": None}


def test_the_registry_datasource_is_provisioned_read_only_and_every_query_uses_it() -> None:
    spec = yaml.safe_load((REPO / ARCHIVE_DATASOURCE_FILE).read_text())["datasources"]
    assert [(d["uid"], d["type"], d["user"]) for d in spec] == [
        (ARCHIVE_CONFIG.datasource_uid, "grafana-postgresql-datasource", READER_ROLE)]
    assert spec[0]["secureJsonData"]["password"] == f"${{{ARCHIVE_CONFIG.reader_password_env}}}"
    for board in BOARDS.values():
        refs = [v["datasource"]["uid"] for v in board["templating"]["list"]]
        refs += [p["datasource"]["uid"] for p in board["panels"]]
        assert set(refs) == {ARCHIVE_CONFIG.datasource_uid}


def test_archive_rows_link_into_the_run_and_compare_dashboards() -> None:
    (table,) = [p for p in BOARDS["curvewatch-archive"]["panels"] if p["title"] == "Versions"]
    urls = [link["url"] for link in table["fieldConfig"]["defaults"]["links"]]
    assert urls[0].startswith("/d/curvewatch-archived-run/") and "var-version=${__data.fields.version}" in urls[0]
    assert urls[1].startswith("/d/curvewatch-compare-versions/")
    assert set(BOARDS) == {u.split("/")[2] for u in urls} | {"curvewatch-archive"}


def _compose_env(**extra: str) -> dict[str, str]:
    drop = {"GRAFANA_ADMIN_PASSWORD", ARCHIVE_CONFIG.owner_password_env, ARCHIVE_CONFIG.reader_password_env}
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "GRAFANA_ADMIN_PASSWORD": "x", **extra}


def test_compose_runs_the_registry_database_for_the_trainer_and_grafana() -> None:
    compose = yaml.safe_load((REPO / COMPOSE_FILE).read_text())["services"]
    db = compose[ARCHIVE_CONFIG.service]
    assert db["ports"] == [f"127.0.0.1:{ARCHIVE_CONFIG.port}:5432"]
    assert "./registry/initdb:/docker-entrypoint-initdb.d:ro" in db["volumes"]
    assert compose["trainer"]["environment"]["CURVEWATCH_DB_URL"].startswith("postgresql+psycopg://")
    assert ARCHIVE_CONFIG.service in compose["grafana"]["depends_on"]
    ok = subprocess.run(["docker-compose", "-f", str(REPO / COMPOSE_FILE), "config", "-q"], capture_output=True,
                        text=True, timeout=120, env=_compose_env(**{ARCHIVE_CONFIG.owner_password_env: "a",
                                                                    ARCHIVE_CONFIG.reader_password_env: "b"}))
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(["docker-compose", "-f", str(REPO / COMPOSE_FILE), "config", "-q"], capture_output=True,
                             text=True, timeout=120, env=_compose_env())
    assert refused.returncode != 0 and ARCHIVE_CONFIG.owner_password_env in refused.stderr


# ---- every SQL against a real PostgreSQL --------------------------------------------------------------------------

def _interpolate(sql: str, values: dict[str, list[str]]) -> str:
    """Grafana's ``${name:sqlstring}``: each value quoted (quotes doubled), joined by commas."""
    def quoted(match: re.Match[str]) -> str:
        return ",".join("'" + v.replace("'", "''") + "'" for v in values[match.group(1)])

    text = re.sub(r"\$\{(\w+):sqlstring\}", quoted, sql)
    assert "$" not in text, text
    return text


@pytest.fixture(scope="module")
def registry(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[psycopg.Connection]:
    """The init script's role, real runs committed by the owner, and a connection as the read-only role."""
    url = postgres_server.create_database("archive_dashboards")
    database = url.rsplit("/", 1)[1]
    env = {**os.environ, "POSTGRES_USER": "postgres", "POSTGRES_DB": database, "PGHOST": "127.0.0.1",
           "PGPORT": str(postgres_server.port), ARCHIVE_CONFIG.reader_password_env: "it's secret",
           "PATH": f"{postgres_server.bindir}:{os.environ['PATH']}"}
    for _ in range(2):  # idempotent: a second run (the role exists) succeeds too
        script = subprocess.run(["sh", str(REPO / INITDB_FILE)], capture_output=True, text=True, env=env, timeout=60)
        assert script.returncode == 0, script.stderr
    root = tmp_path_factory.mktemp("archive-dashboards") / "saved_models"
    with ModelArchive(root, db_url=url) as archive:
        train_and_commit(archive, LIN)
        train_and_commit(archive, LIN, diverge_at=150, seed=1)
        commit_large(archive, BIG)
    with psycopg.connect(host="127.0.0.1", port=postgres_server.port, user=READER_ROLE, dbname=database,
                         autocommit=True) as conn:
        yield conn


def _query(conn: psycopg.Connection, sql: str, values: dict[str, list[str]]) -> tuple[list[dict], float]:
    start = time.perf_counter()
    cursor = conn.execute(_interpolate(sql, values))
    rows = cursor.fetchall()
    elapsed = time.perf_counter() - start
    names = [c.name for c in cursor.description]
    return [dict(zip(names, r)) for r in rows], elapsed


def _variables(board: str) -> dict[str, str]:
    return {v["name"]: v["query"] for v in BOARDS[board]["templating"]["list"]}


def _targets(board: str) -> dict[str, str]:
    return {p["title"]: p["targets"][0]["rawSql"] for p in BOARDS[board]["panels"]}


def test_archive_dashboard_queries_return_every_version(registry: psycopg.Connection) -> None:
    v, q = _variables("curvewatch-archive"), _targets("curvewatch-archive")
    model_types = [r["model_type"] for r in _query(registry, v["model_type"], {})[0]]
    assert model_types == ["big", "lin"]
    values = {"model_type": model_types}
    identifiers = [r["identifier"] for r in _query(registry, v["identifier"], values)[0]]
    assert identifiers == [LIN.identifier, BIG.identifier]
    values |= {"identifier": identifiers, "status": [r["status"] for r in _query(registry, v["status"], {})[0]]}
    assert values["status"] == ["complete"]
    rows, _ = _query(registry, q["Versions"], values)
    assert sorted(r["run_id"] for r in rows) == [f"{LIN.identifier}-v1", f"{LIN.identifier}-v2", f"{BIG.identifier}-v1"]
    assert all(r["best_value"] > 0 and r["best_step"] is not None for r in rows)
    assert _query(registry, q["Complete versions"], values)[0] == [{"versions": 3}]
    assert _query(registry, q["Failed versions"], values)[0] == [{"versions": 0}]


def test_archived_run_queries_return_each_chart_against_step(registry: psycopg.Connection) -> None:
    v, q = _variables("curvewatch-archived-run"), _targets("curvewatch-archived-run")
    assert [r["version"] for r in _query(registry, v["version"], {"identifier": [LIN.identifier]})[0]] == [2, 1]
    values = {"identifier": [LIN.identifier], "version": ["2"]}
    assert [r["chart"] for r in _query(registry, v["log_chart"], values)[0]] == ["loss"]
    assert [r["chart"] for r in _query(registry, v["linear_chart"], values)[0]] == ["lr"]
    (meta,), _ = _query(registry, q["Version"], values)
    assert meta["run_id"] == f"{LIN.identifier}-v2" and json.loads(meta["metrics_summary"])["val_loss"] > 0
    rows, _ = _query(registry, q["$log_chart"], values | {"log_chart": ["loss"]})
    assert {type(r["step"]) for r in rows} == {int} and {r["metric"] for r in rows} == {"train_loss", "val_loss"}
    steps = [r["step"] for r in rows if r["metric"] == "train_loss"]
    assert steps == sorted(steps)  # ascending within each series, as the Trend panel needs
    best = [r for r in rows if r["best"] is not None]
    assert len(best) == 2 and {r["step"] for r in best} == {meta["best_step"]}
    assert all(r["best"] == r["value"] for r in best)
    gaps = [r for r in rows if r["value"] is None]
    nonfinite, _ = _query(registry, q["Non-finite values"], values)
    assert gaps and len(gaps) == len(nonfinite) and {r["nonfinite"] for r in nonfinite} <= {"NaN", "Infinity"}
    lines, _ = _query(registry, q["Lines"], values)
    assert [r["metric"] for r in lines] == ["train_loss", "val_loss", "lr"]
    assert lines[0]["first_nonfinite_step"] == min(r["step"] for r in nonfinite)


def test_compare_versions_queries_overlay_the_chosen_versions(registry: psycopg.Connection) -> None:
    v, q = _variables("curvewatch-compare-versions"), _targets("curvewatch-compare-versions")
    versions = [r["run_id"] for r in _query(registry, v["versions"], {"identifier": [LIN.identifier]})[0]]
    assert versions == [f"{LIN.identifier}-v1", f"{LIN.identifier}-v2"]
    values = {"versions": versions}
    values["metric"] = [r["metric"] for r in _query(registry, v["metric"], values)[0]]
    assert values["metric"] == ["lr", "train_loss", "val_loss"]
    assert [r["metric"] for r in _query(registry, v["log_metric"], values)[0]] == ["train_loss", "val_loss"]
    assert [r["metric"] for r in _query(registry, v["linear_metric"], values)[0]] == ["lr"]
    rows, _ = _query(registry, q["$log_metric"], values | {"log_metric": ["val_loss"]})
    assert {r["run_id"] for r in rows} == set(versions) and len([r for r in rows if r["best"] is not None]) == 2
    chosen, _ = _query(registry, q["Chosen versions"], values)
    assert [r["run_id"] for r in chosen] == versions


def test_a_large_version_answers_each_panel_query_well_under_a_second(registry: psycopg.Connection) -> None:
    run, compare = _targets("curvewatch-archived-run"), _targets("curvewatch-compare-versions")
    values = {"identifier": [BIG.identifier], "version": ["1"], "log_chart": ["loss"], "linear_chart": ["other"],
              "versions": [f"{BIG.identifier}-v1", f"{LIN.identifier}-v1"], "log_metric": ["m0"]}
    # the lines view counts each line's stored points (the JSON array lengths), independently of the points view
    counted, _ = _query(registry, "SELECT points FROM curvewatch_curve_lines WHERE identifier = "
                        "'" + BIG.identifier + "' AND version = 1 AND chart = 'loss'", {})
    loss_points = sum(r["points"] for r in counted)
    assert loss_points > 5 * 3000  # five lines of up to 4000 points each: a large version
    timings = {}
    for title, sql in [*run.items(), ("compare", compare["$log_metric"])]:
        rows, elapsed = _query(registry, sql, values)
        timings[title] = elapsed
        if title == "$log_chart":
            assert len(rows) == loss_points  # every stored point of the five lines, none lost or repeated
    print("panel query seconds:", {k: round(t, 4) for k, t in timings.items()})
    assert max(timings.values()) < PANEL_BUDGET_S, timings
