"""The ``model_versions`` table: one SQLAlchemy Core definition for SQLite (default) and PostgreSQL.

Guarantees (tests named after them in tests/test_archive_core.py, each run on SQLite and PostgreSQL):
- one table definition for both databases; ``curves`` and ``metrics_summary`` are ``JSON`` (``jsonb``
  on PostgreSQL).
- schema_version_is_recorded_and_a_newer_schema_is_refused: the ``curvewatch_schema`` table holds the
  schema version; ``MIGRATIONS`` lists the steps that bring an older registry up to ``SCHEMA_VERSION``,
  applied once under a lock (an advisory lock on PostgreSQL, a file lock next to a SQLite file).
- duplicate_rows_are_refused_by_the_unique_constraint: ``(model_identifier, version)`` is unique.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from .errors import ArchiveError
from .naming import LOCK_SUFFIX
from .read_model import ensure_read_model
from .registrations import create_registrations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Registry", "model_versions", "sqlite_url"]

SCHEMA_VERSION = 1
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_PG_ADVISORY_KEY = 0x63757276  # "curv": serialises schema creation across processes on PostgreSQL

metadata = sa.MetaData()
model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_identifier", sa.String(255), nullable=False),
    sa.Column("model_type", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_path", sa.String(1024), nullable=False),  # relative to the archive root, "/" separated
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("metrics_summary", _JSON, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # reserved | complete | failed
    sa.Column("best_step", sa.BigInteger, nullable=True),
    sa.Column("manifest_sha256", sa.String(64), nullable=True),
    sa.Column("curves", _JSON, nullable=True),  # the curves.json document
    sa.UniqueConstraint("model_identifier", "version", name="uq_model_versions_identifier_version"),
    sa.Index("ix_model_versions_model_type", "model_type"),
)
schema_info = sa.Table(
    "curvewatch_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)


def _create_v1(conn: sa.Connection) -> None:
    model_versions.create(conn, checkfirst=True)


# target schema version -> the step that brings the previous version to it
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {1: _create_v1}

ROW_COLUMNS = tuple(c.name for c in model_versions.columns if c.name != "id")


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).absolute()}"


class Registry:
    """The table behind an archive.

    >>> reg = Registry("sqlite:///curvewatch_registry.sqlite3")
    >>> reg.upsert({"model_identifier": "product_P001_all_mlstm", "version": 1, ...})
    """

    def __init__(self, url: str) -> None:
        self.url = url
        connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, connect_args=connect_args)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    @contextmanager
    def _schema_lock(self) -> Iterator[sa.Connection]:
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            with filelock.FileLock(self.engine.url.database + LOCK_SUFFIX, timeout=60):
                with self.engine.begin() as conn:
                    yield conn
            return
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_ADVISORY_KEY})
            yield conn

    def _migrate(self) -> None:
        with self._schema_lock() as conn:
            schema_info.create(conn, checkfirst=True)
            current = conn.execute(sa.select(schema_info.c.version).where(schema_info.c.id == 1)).scalar()
            current = current or 0
            if current > SCHEMA_VERSION:
                raise ArchiveError(
                    f"The registry at {self.engine.url.render_as_string(hide_password=True)} has schema "
                    f"version {current}, newer than this curvewatch ({SCHEMA_VERSION}); upgrade curvewatch."
                )
            for target in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](conn)
            if current == 0:
                conn.execute(schema_info.insert().values(id=1, version=SCHEMA_VERSION))
            elif current < SCHEMA_VERSION:
                conn.execute(schema_info.update().where(schema_info.c.id == 1).values(version=SCHEMA_VERSION))
            ensure_read_model(conn)  # the SQL views for Grafana (exporter/archive/read_model.py)
            create_registrations(conn)  # live trainer endpoints (HTTP service discovery)

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(schema_info.c.version)).scalar_one())

    @staticmethod
    def _where(identifier: str, version: int) -> sa.ColumnElement[bool]:
        return sa.and_(model_versions.c.model_identifier == identifier, model_versions.c.version == version)

    def upsert(self, row: dict[str, Any], conn: sa.Connection | None = None) -> None:
        """Insert the row of ``(model_identifier, version)``, or update it if it exists."""
        values = {k: row[k] for k in ROW_COLUMNS if k in row}
        if conn is None:
            with self.engine.begin() as own:
                return self.upsert(row, own)
        where = self._where(values["model_identifier"], values["version"])
        if conn.execute(model_versions.update().where(where).values(**values)).rowcount == 0:
            conn.execute(model_versions.insert().values(**values))

    def get(self, identifier: str, version: int) -> dict[str, Any] | None:
        """The row of one version, or ``None``."""
        rows = self.select(model_identifier=identifier, version=version, with_curves=True)
        return rows[0] if rows else None

    def select(self, *, with_curves: bool = False, **filters: Any) -> list[dict[str, Any]]:
        """Rows whose columns equal ``filters`` (``None`` values ignored), by identifier then version."""
        columns = [c for c in model_versions.columns if with_curves or c.name != "curves"]
        query = sa.select(*columns)
        for name, value in filters.items():
            if value is not None:
                if name not in model_versions.c:
                    raise ArchiveError(f"Cannot filter on {name!r}; use one of {', '.join(ROW_COLUMNS)}.")
                query = query.where(model_versions.c[name] == value)
        query = query.order_by(model_versions.c.model_identifier, model_versions.c.version)
        with self.engine.connect() as conn:
            return [_normalise(dict(r._mapping)) for r in conn.execute(query)]

    def delete(self, identifier: str, version: int) -> int:
        """Delete the row of one version; returns the number of rows deleted."""
        with self.engine.begin() as conn:
            return conn.execute(model_versions.delete().where(self._where(identifier, version))).rowcount

    def replace_all(self, rows: Iterable[dict[str, Any]]) -> None:
        """Replace every row with ``rows`` in one transaction (used by rebuild)."""
        with self.engine.begin() as conn:
            conn.execute(model_versions.delete())
            for row in rows:
                conn.execute(model_versions.insert().values(**{k: row[k] for k in ROW_COLUMNS if k in row}))

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer and commits need fewer fsyncs (the file must be on a local disk).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    created = row.get("created_at")
    if isinstance(created, dt.datetime) and created.tzinfo is None:  # SQLite drops the zone; we store UTC
        row["created_at"] = created.replace(tzinfo=dt.UTC)
    return row
