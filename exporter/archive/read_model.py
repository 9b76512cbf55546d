"""The registry's read model: SQL views over the curves documents, for Grafana and ad-hoc SQL.

Three views, created with the registry's schema (``Registry`` calls :func:`ensure_read_model` under its
schema lock) and replaced when this module's :data:`READ_MODEL_VERSION` is newer than theirs:

- ``curvewatch_versions``: one row per version: ``identifier, model_type, version, run_id, status,
  created_at, model_path, best_metric, best_mode, best_value, best_step, steps_total, last_step,
  metrics_summary, manifest_sha256``.
- ``curvewatch_curve_lines``: one row per line of a version's curves: ``chart, chart_title, yscale, metric,
  label, points, points_logged, nonfinite_count, first_nonfinite_step, first_nonfinite_value, best_index``.
- ``curvewatch_curve_points``: one row per kept point: ``chart, yscale, metric, label, point_index, step,
  value, is_finite, nonfinite, is_best`` (plus the version's columns). PostgreSQL only: on SQLite it would
  cost O(points²) per line (see below), so SQLite has the first two views.

Guarantees (tests named after them in tests/test_archive_read_model.py):
- views_unnest_the_stored_documents: the views read ``model_versions.curves`` (JSONB on PostgreSQL, JSON
  text on SQLite) and keep no second copy; every kept point of every line is one row, in order.
- nonfinite_values_stay_visible: ``value`` is a ``double precision`` NaN/±Infinity for the document's
  ``"NaN"``/``"Infinity"``/``"-Infinity"``, ``is_finite`` is false and ``nonfinite`` holds the string; each
  line's ``nonfinite_count`` and first non-finite step and value are in ``curvewatch_curve_lines``.
- the_best_point_is_flagged: ``is_best`` is true exactly at each line's ``best_index``.
- the_read_model_is_created_once_and_replaced_when_newer: views marked with an older version are dropped
  and created again (grants to :data:`READER_ROLE` included); a newer version is left alone.
- the_reader_role_reads_only_the_views: on PostgreSQL, :data:`READER_ROLE` (when it exists) is granted
  ``SELECT`` on the views only; the views run with their owner's rights, so it never reads the table itself.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

__all__ = ["READER_ROLE", "READ_MODEL_VERSION", "VIEWS", "ensure_read_model", "grant_reader", "read_model_version"]

READ_MODEL_VERSION = 1
VIEWS = ("curvewatch_versions", "curvewatch_curve_lines", "curvewatch_curve_points")  # PostgreSQL; SQLite: first two
# The read-only PostgreSQL role Grafana connects as (created by the compose stack's init script, or by hand).
READER_ROLE = "curvewatch_grafana"
_MARKER = "curvewatch read model {version}"
_MARKER_RE = re.compile(r"curvewatch read model (\d+)")

# ---- PostgreSQL: jsonb functions; "NaN"/"Infinity" strings cast to float8 as they are ------------------
_PG_VERSION_COLUMNS = """v.id AS version_id, v.model_identifier AS identifier, v.model_type, v.version,
       v.model_identifier || '-v' || v.version AS run_id"""
_PG_LINES_FROM = """FROM model_versions v
CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(v.curves->'charts') WHEN 'array'
                                        THEN v.curves->'charts' ELSE '[]'::jsonb END) WITH ORDINALITY AS c(chart, ord)
CROSS JOIN LATERAL jsonb_array_elements(c.chart->'lines') WITH ORDINALITY AS l(line, ord)"""
_PG = {
    "curvewatch_versions": f"""SELECT {_PG_VERSION_COLUMNS}, v.status, v.created_at, v.model_path,
       v.curves->'best'->>'metric' AS best_metric, v.curves->'best'->>'mode' AS best_mode,
       (v.curves->'best'->>'value')::float8 AS best_value, v.best_step,
       (v.curves->>'steps_total')::bigint AS steps_total, (v.curves->>'last_step')::bigint AS last_step,
       v.metrics_summary, v.manifest_sha256
FROM model_versions v""",
    "curvewatch_curve_lines": f"""SELECT {_PG_VERSION_COLUMNS},
       c.ord - 1 AS chart_index, c.chart->>'name' AS chart, c.chart->>'title' AS chart_title,
       c.chart->>'yscale' AS yscale, l.ord - 1 AS line_index, l.line->>'metric' AS metric,
       l.line->>'label' AS label, jsonb_array_length(l.line->'x') AS points,
       (l.line->>'points_logged')::bigint AS points_logged, (l.line->>'nonfinite_count')::bigint AS nonfinite_count,
       (l.line->'first_nonfinite'->>'step')::bigint AS first_nonfinite_step,
       l.line->'first_nonfinite'->>'value' AS first_nonfinite_value, (l.line->>'best_index')::int AS best_index
{_PG_LINES_FROM}""",
    "curvewatch_curve_points": f"""SELECT {_PG_VERSION_COLUMNS},
       c.chart->>'name' AS chart, c.chart->>'yscale' AS yscale, l.line->>'metric' AS metric,
       l.line->>'label' AS label, p.ord - 1 AS point_index, (p.x #>> '{{}}')::bigint AS step,
       (p.y #>> '{{}}')::float8 AS value, jsonb_typeof(p.y) = 'number' AS is_finite,
       CASE WHEN jsonb_typeof(p.y) = 'string' THEN p.y #>> '{{}}' END AS nonfinite,
       COALESCE(p.ord - 1 = (l.line->>'best_index')::int, false) AS is_best
{_PG_LINES_FROM}
CROSS JOIN LATERAL ROWS FROM (jsonb_array_elements(l.line->'x'), jsonb_array_elements(l.line->'y'))
     WITH ORDINALITY AS p(x, y, ord)""",
}

# ---- SQLite: json_each over the JSON text; versions and lines only -------------------------------------
# A points view needs each line's x and y zipped; SQLite 3.40 re-parses the line's JSON for each point
# (json_extract or a json_each join: O(points^2) per line, 22 s for 5 lines of 4000 points in
# bench/bench_views.py), so SQLite has no curvewatch_curve_points: read points with `curvewatch compare`,
# `curvewatch report` or the document itself.
_SQ_VERSION_COLUMNS = """v.id AS version_id, v.model_identifier AS identifier, v.model_type, v.version,
       v.model_identifier || '-v' || v.version AS run_id"""
_SQ_LINES_FROM = """FROM model_versions v, json_each(v.curves, '$.charts') c, json_each(c.value, '$.lines') l
WHERE json_type(v.curves, '$.charts') = 'array'"""
_SQ = {
    "curvewatch_versions": f"""SELECT {_SQ_VERSION_COLUMNS}, v.status, v.created_at, v.model_path,
       json_extract(v.curves, '$.best.metric') AS best_metric, json_extract(v.curves, '$.best.mode') AS best_mode,
       CASE WHEN json_type(v.curves, '$.best.value') IN ('integer', 'real')
            THEN json_extract(v.curves, '$.best.value') END AS best_value, v.best_step,
       json_extract(v.curves, '$.steps_total') AS steps_total, json_extract(v.curves, '$.last_step') AS last_step,
       v.metrics_summary, v.manifest_sha256
FROM model_versions v""",
    "curvewatch_curve_lines": f"""SELECT {_SQ_VERSION_COLUMNS},
       c.key AS chart_index, json_extract(c.value, '$.name') AS chart, json_extract(c.value, '$.title') AS chart_title,
       json_extract(c.value, '$.yscale') AS yscale, l.key AS line_index, json_extract(l.value, '$.metric') AS metric,
       json_extract(l.value, '$.label') AS label, json_array_length(l.value, '$.x') AS points,
       json_extract(l.value, '$.points_logged') AS points_logged,
       json_extract(l.value, '$.nonfinite_count') AS nonfinite_count,
       json_extract(l.value, '$.first_nonfinite.step') AS first_nonfinite_step,
       json_extract(l.value, '$.first_nonfinite.value') AS first_nonfinite_value,
       json_extract(l.value, '$.best_index') AS best_index
{_SQ_LINES_FROM}""",
}


def _statements(dialect: str) -> dict[str, str]:
    if dialect == "postgresql":
        return _PG
    if dialect == "sqlite":
        return _SQ
    raise ValueError(f"The read model has views for PostgreSQL and SQLite, not {dialect!r}.")


def read_model_version(conn: sa.Connection) -> int | None:
    """The version marked on the views, or ``None`` when any of them is missing or unmarked."""
    versions = set()
    for view in _statements(conn.dialect.name):
        if conn.dialect.name == "postgresql":
            text = conn.execute(sa.text("SELECT obj_description(to_regclass(:v), 'pg_class')"), {"v": view}).scalar()
        else:
            text = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = :v"),
                                {"v": view}).scalar()
        match = _MARKER_RE.search(text or "")
        if match is None:
            return None
        versions.add(int(match.group(1)))
    return min(versions)


def ensure_read_model(conn: sa.Connection) -> bool:
    """Create the views (or replace older ones) in ``conn``'s transaction; ``True`` when it (re)created them."""
    statements = _statements(conn.dialect.name)
    current = read_model_version(conn)
    if current is not None and current >= READ_MODEL_VERSION:
        return False
    marker = _MARKER.format(version=READ_MODEL_VERSION)
    for view in reversed(VIEWS):
        conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
    for view in statements:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"CREATE VIEW {view} AS {statements[view]}"))
            conn.execute(sa.text(f"COMMENT ON VIEW {view} IS '{marker}'"))
        else:  # SQLite keeps the statement's text, comment included, in sqlite_master
            conn.execute(sa.text(f"CREATE VIEW {view} AS /* {marker} */ {statements[view]}"))
    if conn.dialect.name == "postgresql":
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}).scalar()
        if exists:
            grant_reader(conn, READER_ROLE)
    return True


def grant_reader(conn: sa.Connection, role: str = READER_ROLE) -> None:
    """Grant ``role`` (an existing PostgreSQL role) ``SELECT`` on the read model's views, and nothing else."""
    if conn.dialect.name != "postgresql":
        raise ValueError("Roles exist on PostgreSQL only; a SQLite registry is read by whoever can read its file.")
    quoted = conn.dialect.identifier_preparer.quote(role)
    conn.execute(sa.text(f"GRANT SELECT ON {', '.join(VIEWS)} TO {quoted}"))
