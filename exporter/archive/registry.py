"""The ``model_versions`` table: one SQLAlchemy Core definition for SQLite (default) and PostgreSQL.

Guarantees (tests named after them in tests/test_archive_core.py, each run on SQLite and PostgreSQL):
- one table definition for both databases; ``curves`` and ``metrics_summary`` are ``JSON`` (``jsonb``
  on PostgreSQL).
- schema_version_is_recorded_and_a_newer_schema_is_refused: the ``curvewatch_schema`` table holds the
  schema version; ``MIGRATIONS`` lists the steps that bring an older registry up to ``SCHEMA_VERSION``,
  applied once under a lock (an advisory lock on PostgreSQL, a file lock next to a SQLite file).
- duplicate_rows_are_refused_by_the_unique_constraint: ``(model_identifier, version)`` is unique.
- shared_registry_allocates_unique_versions_across_roots: ``allocate`` decides the version in the
  database: it inserts the reserved row at one more than the highest of the root's floor and the table's
  rows, and retries on the unique constraint, so roots (and hosts) sharing a PostgreSQL registry never
  get the same version. Each row records the ``archive_root`` id that allocated it.
- a_row_is_never_overwritten_by_another_root: ``upsert`` updates only a row of the same root (or a row
  written before roots were recorded); a row of another root raises ``ArchiveError``.
- reads_of_a_shared_registry_see_only_their_root: ``select`` and ``get`` with ``root`` return only the rows
  that root wrote (and rows written before roots were recorded), so two roots sharing a PostgreSQL
  registry never list, load, verify or delete each other's versions (SQLite serves one root).
- many_roots_on_sqlite_are_refused: a SQLite registry serves one root; a second root allocating or
  rebuilding into it gets a sentence pointing to PostgreSQL.
- read_only_registry_never_writes: ``Registry(url, read_only=True)`` neither creates nor migrates
  anything (a missing SQLite file, or its missing folder, is an ``ArchiveError``).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from .errors import ArchiveError
from .locks import held
from .naming import LOCK_SUFFIX, MAX_VERSION
from .read_model import ensure_read_model
from .registrations import create_registrations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Registry", "model_versions", "sqlite_url"]

SCHEMA_VERSION = 2
_SCHEMA_LOCK_TIMEOUT_S = 60.0  # creating or migrating the tables takes well under a second
_ALLOCATION_ATTEMPTS = 1000  # each failed attempt means another process took a version meanwhile
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
    sa.Column("status", sa.String(16), nullable=False),  # reserved | complete | failed | tampered
    sa.Column("best_step", sa.BigInteger, nullable=True),
    sa.Column("manifest_sha256", sa.String(64), nullable=True),
    sa.Column("curves", _JSON, nullable=True),  # the curves.json document
    sa.Column("archive_root", sa.String(64), nullable=True),  # id of the root that allocated it (None: before v2)
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


def _add_archive_root(conn: sa.Connection) -> None:
    if "archive_root" not in {c["name"] for c in sa.inspect(conn).get_columns("model_versions")}:
        conn.execute(sa.text("ALTER TABLE model_versions ADD COLUMN archive_root VARCHAR(64)"))


# target schema version -> the step that brings the previous version to it
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {1: _create_v1, 2: _add_archive_root}

ROW_COLUMNS = tuple(c.name for c in model_versions.columns if c.name != "id")


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).absolute()}"


class Registry:
    """The table behind an archive.

    >>> reg = Registry("sqlite:///curvewatch_registry.sqlite3")
    >>> reg.upsert({"model_identifier": "product_P001_all_mlstm", "version": 1, ...})
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self.engine = _engine(url, read_only)
        try:
            if read_only:
                self._check_schema()
            else:
                self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _where_shown(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _check_schema(self) -> None:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(schema_info.name):
                raise ArchiveError(f"The registry at {self._where_shown()} has no curvewatch tables yet; "
                                   "train a model or run `curvewatch versions rebuild`.")
            current = conn.execute(sa.select(schema_info.c.version).where(schema_info.c.id == 1)).scalar() or 0
        if current != SCHEMA_VERSION:
            newer = "upgrade curvewatch" if current > SCHEMA_VERSION else "a writing command such as " \
                "`curvewatch versions rebuild` upgrades it"
            raise ArchiveError(f"The registry at {self._where_shown()} has schema version {current}, this "
                               f"curvewatch reads {SCHEMA_VERSION}; {newer}.")

    @contextmanager
    def _schema_lock(self) -> Iterator[sa.Connection]:
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            path = Path(self.engine.url.database + LOCK_SUFFIX)
            with held(filelock.FileLock(path, timeout=_SCHEMA_LOCK_TIMEOUT_S), path, _SCHEMA_LOCK_TIMEOUT_S):
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
                    f"The registry at {self._where_shown()} has schema "
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

    def check_root(self, root_id: str) -> None:
        """On SQLite, refuse a root other than the one whose rows the table holds (PostgreSQL: any root)."""
        if not self.is_sqlite:
            return
        query = (
            sa.select(model_versions.c.archive_root)
            .where(model_versions.c.archive_root.is_not(None), model_versions.c.archive_root != root_id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            if conn.execute(query).first() is not None:
                raise ArchiveError(
                    f"The SQLite registry {self._where_shown()} already indexes another archive root; a SQLite "
                    "registry serves one root (the default one sits next to the root, so two roots in one folder "
                    "share it). Give this root its own registry (--db-url sqlite:///PATH, or move the root into "
                    "its own folder), or share one registry between roots or hosts through PostgreSQL "
                    "(--db-url postgresql+psycopg://...)."
                )

    def allocate(self, identifier: str, root_id: str, row_for: Callable[[int], dict[str, Any]], floor: int) -> int:
        """Insert ``row_for(N)`` (reserved, with ``archive_root``) at the next free version ``N`` above ``floor``.

        The version is one more than the larger of ``floor`` (the root's versions.json and directories)
        and the table's highest version of the identifier; the unique constraint decides between
        concurrent writers, and the loser retries with the new highest.
        """
        self.check_root(root_id)
        highest = sa.select(sa.func.max(model_versions.c.version)).where(
            model_versions.c.model_identifier == identifier
        )
        for _ in range(_ALLOCATION_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    version = max(floor, conn.execute(highest).scalar() or 0) + 1
                    if version > MAX_VERSION:
                        raise ArchiveError(
                            f"{identifier} has reached version {MAX_VERSION}, the highest the archive layout "
                            "allows; archive new runs under another model type."
                        )
                    row = row_for(version)
                    conn.execute(model_versions.insert().values(**{k: row[k] for k in ROW_COLUMNS if k in row}))
                    return version
            except sa.exc.IntegrityError:
                continue  # another root or process took this version: look again
        raise ArchiveError(f"Could not allocate a version of {identifier} after {_ALLOCATION_ATTEMPTS} "
                           "attempts; too many writers at once, try again.")

    def upsert(self, row: dict[str, Any], conn: sa.Connection | None = None) -> None:
        """Insert the row of ``(model_identifier, version)``, or update it if it exists and belongs to the
        same root (``archive_root`` equal, or unrecorded); another root's row raises ``ArchiveError``."""
        values = {k: row[k] for k in ROW_COLUMNS if k in row}
        if conn is None:
            with self.engine.begin() as own:
                return self.upsert(row, own)
        where = self._where(values["model_identifier"], values["version"])
        root = values.get("archive_root")
        mine = where if root is None else sa.and_(
            where, sa.or_(model_versions.c.archive_root == root, model_versions.c.archive_root.is_(None))
        )
        if conn.execute(model_versions.update().where(mine).values(**values)).rowcount == 0:
            if conn.execute(sa.select(model_versions.c.id).where(where)).first() is not None:
                raise ArchiveError(
                    f"{values['model_identifier']} v{values['version']} is indexed by another archive root "
                    "sharing this registry; its row was left as it is. Run `curvewatch versions rebuild` "
                    "on this root to re-index it."
                )
            conn.execute(model_versions.insert().values(**values))

    def get(self, identifier: str, version: int, *, root: str | None = None) -> dict[str, Any] | None:
        """The row of one version (of root ``root``: see ``select``), or ``None``."""
        rows = self.select(model_identifier=identifier, version=version, with_curves=True, root=root)
        return rows[0] if rows else None

    def select(self, *, with_curves: bool = False, root: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Rows whose columns equal ``filters`` (``None`` values ignored), by identifier then version; with
        ``root`` (a root id, ``""`` for a root that has none yet) only that root's rows and those written
        before roots were recorded (on SQLite, which serves one root, every row)."""
        columns = [c for c in model_versions.columns if with_curves or c.name != "curves"]
        query = sa.select(*columns)
        if root is not None and not self.is_sqlite:
            owner = model_versions.c.archive_root
            query = query.where(sa.or_(owner == root, owner.is_(None)))
        for name, value in filters.items():
            if value is not None:
                if name not in model_versions.c:
                    raise ArchiveError(f"Cannot filter on {name!r}; use one of {', '.join(ROW_COLUMNS)}.")
                query = query.where(model_versions.c[name] == value)
        query = query.order_by(model_versions.c.model_identifier, model_versions.c.version)
        with self.engine.connect() as conn:
            return [_normalise(dict(r._mapping)) for r in conn.execute(query)]

    def delete(self, identifier: str, version: int, root_id: str | None = None) -> int:
        """Delete the row of one version (with ``root_id``: only if that root, or none, wrote it); returns the
        number of rows deleted."""
        where = self._where(identifier, version)
        if root_id is not None:
            owner = model_versions.c.archive_root
            where = sa.and_(where, sa.or_(owner == root_id, owner.is_(None)))
        with self.engine.begin() as conn:
            return conn.execute(model_versions.delete().where(where)).rowcount

    def replace_root(self, root_id: str, rows: Iterable[dict[str, Any]]) -> list[str]:
        """Replace the rows of root ``root_id`` with ``rows`` in one transaction (used by rebuild).

        On SQLite (one root) every row goes; on PostgreSQL only this root's, and a row of another root
        with the same identifier and version is kept: that version is returned as a conflict, not indexed.
        """
        self.check_root(root_id)
        conflicts = []
        with self.engine.begin() as conn:
            if self.is_sqlite:
                conn.execute(model_versions.delete())
            else:
                conn.execute(model_versions.delete().where(model_versions.c.archive_root == root_id))
            for row in rows:
                values = {k: row[k] for k in ROW_COLUMNS if k in row}
                where = self._where(values["model_identifier"], values["version"])
                other = conn.execute(sa.select(model_versions.c.archive_root).where(where)).first()
                if other is None:
                    conn.execute(model_versions.insert().values(**values))
                elif other[0] is None:  # written before roots were recorded: this root takes it over
                    conn.execute(model_versions.update().where(where).values(**values))
                else:
                    conflicts.append(f"{values['model_identifier']} v{values['version']}")
        return conflicts

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _engine(url: str, read_only: bool) -> sa.Engine:
    """The engine of ``url``. A SQLite URL without a file, or (read-only) without its file or folder, is an
    ``ArchiveError``; an unparsable URL, an unknown dialect or a missing driver raise SQLAlchemy's own
    errors, which the CLI turns into sentences (``exporter/cli/versions.py``)."""
    parsed = sa.engine.make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ArchiveError(f"The registry URL {shown!r} names no SQLite file; use sqlite:///PATH.")
        path = Path(database)
        if read_only and not path.parent.is_dir():
            raise ArchiveError(f"The folder of the SQLite registry {path} does not exist; create it or fix --db-url.")
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)  # a writer creates its registry (as for the root)
            except OSError as exc:
                raise ArchiveError(f"Cannot create the folder of the SQLite registry {path} "
                                   f"({exc.strerror or exc}); fix --db-url.") from None
        if read_only and not path.is_file():
            raise ArchiveError(f"There is no registry at {path}; train a model or run `curvewatch versions rebuild`.")
        # read-only opens the file as usual (no mode=ro: SQLite could then not remove the WAL files it makes
        # for a reader); it just never migrates, sets no pragma and writes nothing. On a read-only file
        # system (an audit copy) SQLite cannot make the WAL index a WAL-mode file needs: nobody can write
        # there either, so the file is opened immutable (no locks, no WAL files, the bytes as they are).
        if read_only and _on_read_only_fs(path):
            return _read_only_fs_engine(path)
    engine = sa.create_engine(parsed, connect_args={"timeout": 60} if parsed.get_backend_name() == "sqlite" else {})
    if engine.dialect.name == "sqlite" and not read_only:
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _read_only_fs_engine(path: Path) -> sa.Engine:
    """A SQLite file on a read-only file system: ``mode=ro`` when a WAL and its index were copied with it
    (SQLite reads both), else ``immutable=1`` (no WAL, so the file holds every commit)."""
    wal, index = Path(f"{path}-wal"), Path(f"{path}-shm")
    if wal.is_file() and wal.stat().st_size > 0 and not index.is_file():
        raise ArchiveError(f"The registry {path} on this read-only file system has a write-ahead log ({wal.name}) "
                           f"but not its index ({index.name}); copy the three files together, or open a "
                           "writable copy.")
    mode = "mode=ro" if wal.is_file() and wal.stat().st_size > 0 else "immutable=1"
    uri = f"file:{urllib.parse.quote(str(path.absolute()))}?{mode}"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=60))


def _on_read_only_fs(path: Path) -> bool:
    """Whether ``path``'s folder is on a file system mounted read-only (or that this process cannot write)."""
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY) or not os.access(path.parent, os.W_OK)
    except OSError:
        return False


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
