"""Archive dashboards over the registry's SQL read model (PostgreSQL), plus its datasource and compose service.

Three dashboards read the views of ``curvewatch.archive.read_model`` through a provisioned PostgreSQL
datasource that logs in as the read-only role ``curvewatch_grafana`` (it may SELECT the views only):

- **Archive** (``curvewatch-archive``): every version, filtered by model type, identifier and status, with
  its best value; each row links into the next two.
- **Archived run** (``curvewatch-archived-run``): every chart of one version against step (Trend panels,
  one per chart, log-scale charts apart), best point marked, non-finite values listed, metadata.
- **Compare versions** (``curvewatch-compare-versions``): several versions' same metrics overlaid against step.

Every SQL uses Grafana's ``${var:sqlstring}`` format (quoted and escaped). ``ARCHIVE_QUERIES`` lists
them all so the tests run each against a real PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curvewatch.archive.read_model import READER_ROLE
from curvewatch.monitoring._archive_panels import ArchivePanels, link
from curvewatch.monitoring._panels import dashboard_json
from curvewatch.monitoring._yaml import GENERATED_HEADER, dump_json, dump_yaml
from curvewatch.monitoring.config import MonitoringConfig

__all__ = ["ARCHIVE_CONFIG", "ARCHIVE_DASHBOARD_FILES", "ArchiveConfig", "add_registry_database",
           "archive_dashboards", "archive_files"]


@dataclass(frozen=True)
class ArchiveConfig:
    """Every knob of the archive side of the monitoring bundle (the registry database and its datasource)."""

    # Provisioned PostgreSQL datasource: uid (the dashboards reference it), host:port and database.
    datasource_uid: str = "curvewatch-registry"
    database_host: str = "registry-db:5432"
    database: str = "curvewatch"
    # The registry's owner (the trainer writes as it) and its password's environment variable.
    owner: str = "curvewatch"
    owner_password_env: str = "CURVEWATCH_REGISTRY_PASSWORD"
    # The read-only role Grafana logs in as, and its password's environment variable.
    reader_password_env: str = "CURVEWATCH_GRAFANA_DB_PASSWORD"
    # The compose service of the registry database, its pinned image and the port published on 127.0.0.1.
    service: str = "registry-db"
    image: str = "postgres:15.10"
    port: int = 5432


ARCHIVE_CONFIG = ArchiveConfig()
ARCHIVE_DATASOURCE_FILE = "grafana/provisioning/datasources/curvewatch-registry.yml"
INITDB_FILE = "registry/initdb/10-curvewatch-grafana-reader.sh"
ARCHIVE_DASHBOARD_FILES = {
    "curvewatch-archive": "grafana/dashboards/curvewatch-archive.json",
    "curvewatch-archived-run": "grafana/dashboards/curvewatch-archived-run.json",
    "curvewatch-compare-versions": "grafana/dashboards/curvewatch-compare-versions.json",
}
_THE_VERSION = "identifier = ${identifier:sqlstring} AND version = ${version:sqlstring}"
_POINTS = ("SELECT step, {series}, CASE WHEN is_finite THEN value END AS value, "
           "CASE WHEN is_best THEN value END AS best FROM curvewatch_curve_points WHERE {where} "
           "ORDER BY {series}, step")


def archive(config: MonitoringConfig, ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, Any]:
    b = ArchivePanels(config, ac.datasource_uid)
    board = b.board("curvewatch-archive", "curvewatch / Archive",
                    "Every archived version in the registry: status, best value, links to its curves and to a "
                    "comparison.")
    board.with_variable(b.variable("model_type", "Model type", "SELECT DISTINCT model_type FROM curvewatch_versions "
                                   "ORDER BY 1", "Model types in the registry.", multi=True))
    board.with_variable(b.variable("identifier", "Identifier", "SELECT DISTINCT identifier FROM curvewatch_versions "
                                   "WHERE model_type IN (${model_type:sqlstring}) ORDER BY 1",
                                   "Model identifiers of the chosen model types.", multi=True))
    board.with_variable(b.variable("status", "Status", "SELECT DISTINCT status FROM curvewatch_versions ORDER BY 1",
                                   "reserved (training or killed), complete or failed.", multi=True))
    where = ("model_type IN (${model_type:sqlstring}) AND identifier IN (${identifier:sqlstring}) "
             "AND status IN (${status:sqlstring})")
    for title, status in (("Complete versions", "complete"), ("Failed versions", "failed"),
                          ("Reserved versions", "reserved")):
        board.with_panel(b.stat(title, f"Versions whose status is {status} (filters applied).",
                                f"SELECT count(*) AS versions FROM curvewatch_versions WHERE {where} "
                                f"AND status = '{status}'", w=8))
    links = [
        link("Curves of ${__data.fields.run_id}", "/d/curvewatch-archived-run/curvewatch-archived-run?"
              "var-identifier=${__data.fields.identifier}&var-version=${__data.fields.version}"),
        link("Compare the versions of ${__data.fields.identifier}", "/d/curvewatch-compare-versions/"
              "curvewatch-compare-versions?var-identifier=${__data.fields.identifier}"),
    ]
    board.with_panel(b.table(
        "Versions", "One row per version, newest first; click a cell for its curves or a comparison.",
        f"SELECT identifier, version, run_id, model_type, status, created_at, best_metric, best_mode, best_value, "
        f"best_step, steps_total, manifest_sha256 FROM curvewatch_versions WHERE {where} "
        f"ORDER BY created_at DESC, identifier, version DESC", links=links, h=16))
    return dashboard_json(board)


def archived_run(config: MonitoringConfig, ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, Any]:
    b = ArchivePanels(config, ac.datasource_uid)
    board = b.board("curvewatch-archived-run", "curvewatch / Archived run",
                    "One archived version: every chart against step from the faithful points, best point, "
                    "non-finite values, metadata.")
    board.with_variable(b.variable("identifier", "Identifier", "SELECT DISTINCT identifier FROM curvewatch_versions "
                                   "ORDER BY 1", "The model identifier."))
    board.with_variable(b.variable("version", "Version", "SELECT version FROM curvewatch_versions WHERE identifier = "
                                   "${identifier:sqlstring} ORDER BY version DESC", "The version (newest first)."))
    for name, op, scale in (("log_chart", "=", "a log"), ("linear_chart", "<>", "a linear")):
        board.with_variable(b.variable(
            name, name, f"SELECT DISTINCT chart FROM curvewatch_curve_lines WHERE {_THE_VERSION} "
            f"AND yscale {op} 'log' ORDER BY 1", f"Charts of the version on {scale} y scale.",
            multi=True, hidden=True))
    board.with_panel(b.table(
        "Version", "Status, best point, size and the manifest digest; check the files with "
        "`curvewatch versions verify IDENTIFIER VERSION`.",
        f"SELECT run_id, status, model_type, created_at, best_metric, best_mode, best_value, best_step, steps_total, "
        f"last_step, manifest_sha256, metrics_summary::text AS metrics_summary FROM curvewatch_versions "
        f"WHERE {_THE_VERSION}", h=5))
    for var, log in (("log_chart", True), ("linear_chart", False)):
        board.with_panel(b.trend(
            f"${var}", "Every line of the chart against step (faithful points kept by the recorder); the best "
            "point is the green dot; non-finite values are gaps, listed below.",
            _POINTS.format(series="metric", where=f"{_THE_VERSION} AND chart = ${{{var}:sqlstring}}"),
            "metric", log=log, repeat=var))
    board.with_panel(b.table(
        "Lines", "Per line: points kept and logged, non-finite values and the first one, best point index.",
        "SELECT chart, metric, label, yscale, points, points_logged, nonfinite_count, first_nonfinite_step, "
        f"first_nonfinite_value, best_index FROM curvewatch_curve_lines WHERE {_THE_VERSION} "
        "ORDER BY chart_index, line_index", w=12))
    board.with_panel(b.table(
        "Non-finite values", "Kept points whose value is NaN or ±Infinity (gaps in the charts above).",
        "SELECT chart, metric, step, nonfinite FROM curvewatch_curve_points "
        f"WHERE {_THE_VERSION} AND NOT is_finite ORDER BY chart, metric, step", w=12))
    return dashboard_json(board)


def compare_versions(config: MonitoringConfig, ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, Any]:
    b = ArchivePanels(config, ac.datasource_uid)
    board = b.board("curvewatch-compare-versions", "curvewatch / Compare versions",
                    "Several archived versions' metrics overlaid against step, best points marked.")
    board.with_variable(b.variable("identifier", "Identifier", "SELECT DISTINCT identifier FROM curvewatch_versions "
                                   "ORDER BY 1", "Models whose versions are offered.", multi=True))
    board.with_variable(b.variable(
        "versions", "Versions", "SELECT run_id FROM curvewatch_versions WHERE status = 'complete' AND identifier IN "
        "(${identifier:sqlstring}) ORDER BY identifier, version", "Complete versions to overlay.", multi=True))
    board.with_variable(b.variable(
        "metric", "Metrics", "SELECT DISTINCT metric FROM curvewatch_curve_lines WHERE run_id IN "
        "(${versions:sqlstring}) ORDER BY 1", "Metrics of the chosen versions.", multi=True))
    for name, op, scale in (("log_metric", "=", "a log"), ("linear_metric", "<>", "a linear")):
        board.with_variable(b.variable(
            name, name, f"SELECT DISTINCT metric FROM curvewatch_curve_lines WHERE run_id IN (${{versions:sqlstring}}) "
            f"AND metric IN (${{metric:sqlstring}}) AND yscale {op} 'log' ORDER BY 1",
            f"Chosen metrics drawn on {scale} y scale.", multi=True, hidden=True))
    for var, log in (("log_metric", True), ("linear_metric", False)):
        board.with_panel(b.trend(
            f"${var}", "The metric of every chosen version against step; each version's best point is a dot.",
            _POINTS.format(series="run_id", where=f"run_id IN (${{versions:sqlstring}}) AND metric = "
                           f"${{{var}:sqlstring}}"), "run_id", log=log, repeat=var))
    board.with_panel(b.table(
        "Chosen versions", "Best point and size of each chosen version.",
        "SELECT run_id, status, best_metric, best_mode, best_value, best_step, steps_total, created_at "
        "FROM curvewatch_versions WHERE run_id IN (${versions:sqlstring}) ORDER BY identifier, version", h=6))
    return dashboard_json(board)


def archive_dashboards(config: MonitoringConfig, ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON of the three archive dashboards."""
    return {"curvewatch-archive": archive(config, ac), "curvewatch-archived-run": archived_run(config, ac),
            "curvewatch-compare-versions": compare_versions(config, ac)}


def datasource(ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": [{
        "name": "curvewatch registry (PostgreSQL)", "uid": ac.datasource_uid, "type": "grafana-postgresql-datasource",
        "access": "proxy", "url": ac.database_host, "user": READER_ROLE, "editable": False,
        "jsonData": {"database": ac.database, "sslmode": "disable", "postgresVersion": 1500, "timescaledb": False,
                     "maxOpenConns": 5},
        # Grafana expands environment variables in provisioning files when it starts.
        "secureJsonData": {"password": f"${{{ac.reader_password_env}}}"},
    }]}


def initdb_script(ac: ArchiveConfig = ARCHIVE_CONFIG) -> str:
    """The registry container's first-start script: the read-only login role Grafana uses (idempotent)."""
    return "#!/bin/sh\n" + GENERATED_HEADER + f"""#
# Run once by the postgres image when its data directory is created: the login role {READER_ROLE}, read-only.
# curvewatch grants it SELECT on the read model's views (never the table) when it creates them.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
     -v password="${ac.reader_password_env}" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER_ROLE}') AS missing \\gset
\\if :missing
CREATE ROLE {READER_ROLE} LOGIN;
\\endif
ALTER ROLE {READER_ROLE} WITH LOGIN PASSWORD :'password';
ALTER ROLE {READER_ROLE} SET default_transaction_read_only = on;
SQL
"""


def _depend_on(service: dict[str, Any], name: str) -> None:
    """Add ``name`` to ``service``'s depends_on (a healthy-condition map, or a plain list)."""
    deps = service.setdefault("depends_on", {})
    if isinstance(deps, dict):
        deps[name] = {"condition": "service_healthy"}
    else:
        deps.append(name)


def add_registry_database(compose: dict[str, Any], ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, Any]:
    """``compose`` with the registry's PostgreSQL service, Grafana's reader password and the trainer's registry."""
    services = compose["services"]
    need = "to a password for the curvewatch registry database"
    services[ac.service] = {
        "image": ac.image,
        "environment": {
            "POSTGRES_DB": ac.database, "POSTGRES_USER": ac.owner,
            "POSTGRES_PASSWORD": f"${{{ac.owner_password_env}:?set {ac.owner_password_env} {need}}}",
            ac.reader_password_env: f"${{{ac.reader_password_env}:?set {ac.reader_password_env} to a password "
                                    f"for Grafana's read-only role}}",
        },
        "volumes": ["./registry/initdb:/docker-entrypoint-initdb.d:ro", "registry-data:/var/lib/postgresql/data"],
        "ports": [f"127.0.0.1:{ac.port}:5432"],
        "healthcheck": {"test": ["CMD-SHELL", f"pg_isready -U {ac.owner} -d {ac.database}"], "interval": "10s",
                        "timeout": "5s", "retries": 5},
        "restart": "unless-stopped",
    }
    if "grafana" in services:
        services["grafana"]["environment"][ac.reader_password_env] = f"${{{ac.reader_password_env}}}"
        _depend_on(services["grafana"], ac.service)
    if "trainer" in services:
        url = f"postgresql+psycopg://{ac.owner}:${{{ac.owner_password_env}}}@{ac.database_host}/{ac.database}"
        services["trainer"].setdefault("environment", {})["CURVEWATCH_DB_URL"] = url
        _depend_on(services["trainer"], ac.service)
    compose.setdefault("volumes", {})["registry-data"] = {}
    return compose


def archive_files(config: MonitoringConfig, ac: ArchiveConfig = ARCHIVE_CONFIG) -> dict[str, str]:
    """Relative path -> text: the archive dashboards, their datasource and the registry's init script."""
    files = {ARCHIVE_DATASOURCE_FILE: dump_yaml(datasource(ac)), INITDB_FILE: initdb_script(ac)}
    for uid, board in archive_dashboards(config, ac).items():
        files[ARCHIVE_DASHBOARD_FILES[uid]] = dump_json(board)
    return files
