"""The ``endpoint_registrations`` table: live trainer endpoints in the shared registry database.

A trainer started with a registry URL keeps one row per endpoint (``address`` = the ``host:port``
Prometheus scrapes) and refreshes its heartbeat; ``curvewatch sd-server`` serves the rows whose heartbeat
is recent as Prometheus HTTP service discovery targets. Heartbeats are stamped with the database's own
clock, never the trainer's, so hosts with skewed clocks cannot expire each other's entries.

Guarantees (tests named after them in tests/test_scale_registrations.py, on SQLite and PostgreSQL):
- the_table_is_created_with_the_registry_schema: opening a :class:`Registry` creates it (a one-line hook).
- one_row_per_address: registering an address again replaces its row (a restarted trainer).
- stale_heartbeats_are_not_live_and_are_purged: :func:`live_registrations` returns only rows whose
  heartbeat is younger than ``max_age`` seconds by the database clock; :func:`purge_stale` deletes the rest.
- a_heartbeat_restores_an_expired_row: a heartbeat of a purged address inserts it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from .errors import ArchiveError

__all__ = [
    "RUN_ID_MAX_CHARS",
    "create_registrations",
    "delete_registration",
    "heartbeat",
    "live_registrations",
    "purge_stale",
    "registrations",
]

RUN_ID_MAX_CHARS = 255
_metadata = sa.MetaData()
registrations = sa.Table(
    "endpoint_registrations",
    _metadata,
    sa.Column("address", sa.String(255), primary_key=True),  # host:port (or [v6]:port) Prometheus scrapes
    sa.Column("run_id", sa.String(RUN_ID_MAX_CHARS), nullable=False),  # the endpoint's runs, joined by ","
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),  # extra target labels: {"name": "value"}
    sa.Column("registered_at", sa.Float, nullable=False),  # unix seconds, database clock
    sa.Column("heartbeat_at", sa.Float, nullable=False),  # unix seconds, database clock
    sa.Index("ix_endpoint_registrations_heartbeat", "heartbeat_at"),
)


def create_registrations(conn: sa.Connection) -> None:
    """Create the table if it is missing (called with the registry schema; idempotent)."""
    registrations.create(conn, checkfirst=True)


def _db_now(conn: sa.Connection) -> float:
    """Unix seconds by the database server's clock."""
    if conn.dialect.name == "postgresql":
        return float(conn.execute(sa.text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
    if conn.dialect.name == "sqlite":
        return float(conn.execute(sa.text("SELECT (julianday('now') - 2440587.5) * 86400.0")).scalar_one())
    raise ArchiveError(f"Endpoint registrations need SQLite or PostgreSQL, not {conn.dialect.name}.")


def heartbeat(
    conn: sa.Connection, address: str, *, run_id: str, rank: int, labels: Mapping[str, str] | None = None
) -> None:
    """Insert the row of ``address`` or refresh its heartbeat (and run, rank and labels)."""
    now = _db_now(conn)
    values = {"run_id": run_id, "rank": int(rank), "labels": dict(labels or {}), "heartbeat_at": now}
    updated = conn.execute(registrations.update().where(registrations.c.address == address).values(**values))
    if updated.rowcount == 0:
        conn.execute(registrations.insert().values(address=address, registered_at=now, **values))


def delete_registration(conn: sa.Connection, address: str) -> int:
    """Remove the row of ``address``; returns the number of rows deleted (0 or 1)."""
    return conn.execute(registrations.delete().where(registrations.c.address == address)).rowcount


def live_registrations(conn: sa.Connection, max_age: float) -> list[dict[str, Any]]:
    """Rows whose heartbeat is younger than ``max_age`` seconds, by address."""
    cutoff = _db_now(conn) - max_age
    query = sa.select(registrations).where(registrations.c.heartbeat_at >= cutoff).order_by(registrations.c.address)
    return [dict(row._mapping) for row in conn.execute(query)]


def purge_stale(conn: sa.Connection, max_age: float) -> int:
    """Delete rows whose heartbeat is ``max_age`` seconds old or older; returns how many went."""
    cutoff = _db_now(conn) - max_age
    return conn.execute(registrations.delete().where(registrations.c.heartbeat_at < cutoff)).rowcount
