"""The registry's SQL views (exporter/archive/read_model.py) over versions committed by real training runs.

Every test runs on SQLite and on the real PostgreSQL server; the role test needs PostgreSQL.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from curvewatch.archive import ModelArchive, ModelKey
from curvewatch.archive.read_model import READ_MODEL_VERSION, READER_ROLE, VIEWS, read_model_version
from curvewatch.archive.registry import Registry
from curvewatch.recorder import decode_document
from views_training import train_and_commit

KEY = ModelKey.product("P001", model_type="lin")


def _two_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              backend: str) -> Iterator[ModelArchive]:
    root = tmp_path_factory.mktemp("read-model")
    if backend == "sqlite":
        url = f"sqlite:///{root / 'registry.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database(f"read_model_{id(request)}_{backend}")
    archive = ModelArchive(root / "saved_models", db_url=url)
    train_and_commit(archive, KEY)
    train_and_commit(archive, KEY, diverge_at=150, seed=1)
    yield archive
    archive.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelArchive]:
    """Two versions of one model: a healthy run and one whose learning rate jump makes the loss overflow."""
    yield from _two_runs(request, tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def trained_pg(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelArchive]:
    """The same two runs on PostgreSQL, the database that has the points view."""
    yield from _two_runs(request, tmp_path_factory, "postgresql")


def _rows(archive: ModelArchive, sql: str, **params: object) -> list[dict]:
    with archive.registry.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_views_unnest_the_stored_documents(trained_pg: ModelArchive) -> None:
    trained = trained_pg
    for version in (1, 2):
        doc = decode_document(json.dumps(trained.get(KEY.identifier, version).curves))
        for chart in doc["charts"]:
            for line in chart["lines"]:
                rows = _rows(trained, "SELECT point_index, step, value, yscale FROM curvewatch_curve_points "
                             "WHERE identifier = :i AND version = :v AND chart = :c AND metric = :m "
                             "ORDER BY point_index", i=KEY.identifier, v=version, c=chart["name"], m=line["metric"])
                assert [r["point_index"] for r in rows] == list(range(len(line["x"])))
                assert [r["step"] for r in rows] == list(line["x"])
                assert all(_same(r["value"], y) for r, y in zip(rows, line["y"], strict=True))
                assert {r["yscale"] for r in rows} == {chart["yscale"]}


def test_the_lines_view_has_one_row_per_line(trained: ModelArchive) -> None:
    lines = _rows(trained, "SELECT chart, metric, label, points, points_logged FROM curvewatch_curve_lines "
                  "WHERE identifier = :i AND version = 1 ORDER BY chart_index, line_index", i=KEY.identifier)
    assert [(r["chart"], r["metric"], r["label"]) for r in lines] == [
        ("loss", "train_loss", "train"), ("loss", "val_loss", "validation"), ("lr", "lr", "lr")]
    assert lines[0]["points_logged"] == 300 and lines[1]["points_logged"] == 30


def test_versions_view_has_one_row_per_version_with_its_best_point(trained: ModelArchive) -> None:
    rows = _rows(trained, "SELECT * FROM curvewatch_versions ORDER BY version")
    assert [r["run_id"] for r in rows] == [f"{KEY.identifier}-v1", f"{KEY.identifier}-v2"]
    for row in rows:
        record = trained.get(KEY.identifier, row["version"])
        best = record.curves["best"]
        assert (row["status"], row["model_type"], row["best_metric"], row["best_mode"]) == (
            "complete", "lin", "val_loss", "min")
        assert row["best_value"] == pytest.approx(best["value"]) and row["best_step"] == best["step"]
        assert row["manifest_sha256"] == record.manifest_sha256 and row["steps_total"] == 300


def test_nonfinite_values_stay_visible(trained_pg: ModelArchive) -> None:
    trained = trained_pg
    line = _rows(trained, "SELECT nonfinite_count, first_nonfinite_step, first_nonfinite_value "
                 "FROM curvewatch_curve_lines WHERE version = 2 AND metric = 'train_loss'")[0]
    assert line["nonfinite_count"] > 0 and line["first_nonfinite_step"] >= 150
    rows = _rows(trained, "SELECT step, value, is_finite, nonfinite FROM curvewatch_curve_points "
                 "WHERE version = 2 AND metric = 'train_loss' AND NOT is_finite ORDER BY step")
    assert rows and rows[0]["step"] == line["first_nonfinite_step"]
    assert rows[0]["nonfinite"] == line["first_nonfinite_value"]
    assert {r["nonfinite"] for r in rows} <= {"NaN", "Infinity", "-Infinity"}
    assert all(not math.isfinite(row["value"]) for row in rows)  # a float NaN/inf, as Grafana shows it
    assert not _rows(trained, "SELECT 1 FROM curvewatch_curve_points WHERE version = 1 AND NOT is_finite")


def test_the_best_point_is_flagged(trained_pg: ModelArchive) -> None:
    trained = trained_pg
    for version in (1, 2):
        curves = trained.get(KEY.identifier, version).curves
        expected = {(c["name"], ln["metric"], ln["best_index"]) for c in curves["charts"] for ln in c["lines"]
                    if ln["best_index"] is not None}
        rows = _rows(trained, "SELECT chart, metric, point_index, step FROM curvewatch_curve_points "
                     "WHERE version = :v AND is_best", v=version)
        assert {(r["chart"], r["metric"], r["point_index"]) for r in rows} == expected
        assert {r["step"] for r in rows} == {curves["best"]["step"]}


def test_the_read_model_is_created_once_and_replaced_when_newer(registry_db_url: str) -> None:
    registry = Registry(registry_db_url)
    postgres = registry.engine.dialect.name == "postgresql"
    names = VIEWS if postgres else VIEWS[:2]  # SQLite has no points view (see read_model.py)

    def mark(version: int) -> None:
        with registry.engine.begin() as conn:
            for view in names:
                if postgres:
                    conn.execute(sa.text(f"COMMENT ON VIEW {view} IS 'curvewatch read model {version}'"))
                else:
                    conn.execute(sa.text(f"DROP VIEW {view}"))
                    conn.execute(sa.text(f"CREATE VIEW {view} AS /* curvewatch read model {version} */ SELECT 1 AS x"))

    def version() -> int | None:
        with registry.engine.connect() as conn:
            return read_model_version(conn)

    try:
        assert version() == READ_MODEL_VERSION
        mark(0)  # an older curvewatch's views: replaced when the registry is opened
        Registry(registry_db_url).dispose()
        assert version() == READ_MODEL_VERSION
        with registry.engine.connect() as conn:
            conn.execute(sa.text("SELECT chart, best_index FROM curvewatch_curve_lines")).fetchall()
            assert sorted(sa.inspect(conn).get_view_names()) == sorted(names)
        mark(READ_MODEL_VERSION + 1)  # a newer curvewatch's views: left alone
        Registry(registry_db_url).dispose()
        assert version() == READ_MODEL_VERSION + 1
    finally:
        registry.dispose()


def test_the_reader_role_reads_only_the_views(postgres_db_url: str, tmp_path: Path) -> None:
    admin = sa.create_engine(postgres_db_url)
    with admin.begin() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}).scalar():
            conn.execute(sa.text(f"CREATE ROLE {READER_ROLE} LOGIN"))
    admin.dispose()
    archive = ModelArchive(tmp_path / "saved_models", db_url=postgres_db_url)
    try:
        train_and_commit(archive, KEY, steps=40)
        url = sa.make_url(postgres_db_url)
        with psycopg.connect(host=url.host, port=url.port, user=READER_ROLE, dbname=url.database,
                             autocommit=True) as reader:
            for view in VIEWS:
                assert reader.execute(f"SELECT count(*) FROM {view}").fetchone()[0] > 0
            for statement in ("SELECT count(*) FROM model_versions", "DELETE FROM model_versions",
                              "CREATE TABLE stolen (x int)"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    reader.execute(statement)
    finally:
        archive.close()
