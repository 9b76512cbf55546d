"""The archive views' cost: SQL read model panel queries (PostgreSQL and SQLite), compare PNG, report HTML.

    .venv/bin/python bench/bench_views.py                  # 10 versions of 4000 x 10 points, both databases
    .venv/bin/python bench/bench_views.py --versions 30 --repeat 9

PostgreSQL is a throw-away server started like the tests' fixture (initdb in a temp dir, 127.0.0.1, a free port).
Each query's median over ``--repeat`` runs is printed beside the baseline a client without the views pays:
fetching the version's whole JSON document and unnesting it in Python. Writes bench/results/views.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from curvewatch.archive import ModelArchive, ModelKey  # noqa: E402
from curvewatch.views import Sources, compare_png, write_report  # noqa: E402
from fixtures.postgres import PostgresServer  # noqa: E402
from views_training import commit_large  # noqa: E402

KEY = ModelKey.product("P002", model_type="big")
QUERIES = {
    "one chart (5 lines x 4000, log)": "SELECT step, metric, CASE WHEN is_finite THEN value END AS value, "
    "CASE WHEN is_best THEN value END AS best FROM curvewatch_curve_points WHERE identifier = :i AND version = 1 "
    "AND chart = 'loss' ORDER BY metric, step",
    "compare one metric of 2 versions": "SELECT step, run_id, value FROM curvewatch_curve_points WHERE run_id IN "
    "(:r1, :r2) AND metric = 'm0' ORDER BY run_id, step",
    "lines table of a version": "SELECT * FROM curvewatch_curve_lines WHERE identifier = :i AND version = 1",
    "versions table (every version)": "SELECT identifier, version, status, best_metric, best_value, best_step "
    "FROM curvewatch_versions ORDER BY identifier, version",
}


def _median(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _baseline(engine: sa.Engine) -> None:
    """What a client pays without the views: the whole document, unnested in Python."""
    with engine.connect() as conn:
        curves = conn.execute(sa.text("SELECT curves FROM model_versions WHERE model_identifier = :i AND version = 1"),
                              {"i": KEY.identifier}).scalar_one()
    doc = curves if isinstance(curves, dict) else json.loads(curves)
    rows = [(x, y) for c in doc["charts"] if c["name"] == "loss" for ln in c["lines"] for x, y in zip(ln["x"], ln["y"])]
    assert rows


def bench(url: str, root: Path, versions: int, repeat: int) -> list[tuple[str, float]]:
    with ModelArchive(root, db_url=url) as archive:
        for _ in range(versions):
            commit_large(archive, KEY)
        engine = archive.registry.engine
        params = {"i": KEY.identifier, "r1": f"{KEY.identifier}-v1", "r2": f"{KEY.identifier}-v2"}
        out = []
        for name, sql in QUERIES.items():
            if "curvewatch_curve_points" in sql and engine.dialect.name == "sqlite":
                out.append((name, float("nan")))  # no points view on SQLite (exporter/archive/read_model.py)
                continue

            def run(sql: str = sql) -> None:
                with engine.connect() as conn:
                    conn.execute(sa.text(sql), params).fetchall()
            out.append((name, _median(run, repeat)))
        out.append(("baseline: fetch + unnest one chart in Python", _median(lambda: _baseline(engine), repeat)))
        with Sources(root, db_url=url) as sources:
            loaded = [sources.load(f"{KEY.identifier}:{n}") for n in (1, 2)]
            tmp = Path(tempfile.mkdtemp())
            out.append(("compare PNG of 2 versions (10 metrics)", _median(lambda: compare_png(loaded, tmp / "c.png"),
                                                                         max(1, repeat // 3))))
            out.append(("report HTML of a version", _median(lambda: write_report(loaded[0], tmp / "r.html"),
                                                           max(1, repeat // 3))))
            out.append(("report size (MB)", (tmp / "r.html").stat().st_size / 1e6))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curvewatch-bench-views-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="curvewatch-bench-pg-"))  # chowned to postgres, like the fixture's
    server = PostgresServer(pg_dir)
    server.start()
    try:
        results = {"postgresql": bench(server.create_database("bench"), work / "pg-root" / "saved_models",
                                       args.versions, args.repeat),
                   "sqlite": bench(f"sqlite:///{work / 'registry.sqlite3'}", work / "sq-root" / "saved_models",
                                   args.versions, args.repeat)}
    finally:
        server.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"# Archive views: {args.versions} versions of 4000 x 10 points, median of {args.repeat}",
             "(nan: no points view on SQLite)", "",
             "| measurement | PostgreSQL (s) | SQLite (s) |", "|---|---|---|"]
    for (name, pg), (_, sq) in zip(results["postgresql"], results["sqlite"]):
        lines.append(f"| {name} | {pg:.4f} | {sq:.4f} |")
    text = "\n".join(lines) + "\n"
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "views.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
