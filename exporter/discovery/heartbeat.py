"""A trainer's entry in the shared registry: registered at start, refreshed by a heartbeat, removed at stop.

>>> reg = EndpointRegistration(db_url, "10.0.0.7:9108", run_id="mlp-1", rank=0, labels={"team": "fc"})
>>> reg.start()        # the row exists when this returns (or, database down: a warning, retried)
>>> ...                # a daemon thread refreshes the heartbeat every `interval` seconds
>>> reg.stop()         # stops the thread and deletes the row

``Exporter.start(..., registry_url=...)`` does this for its endpoint. Guarantees (tests named after them in
tests/test_scale_registrations.py):
- registered_when_start_returns: ``curvewatch sd-server`` lists the address as soon as ``start()`` returns.
- stop_removes_the_entry: after ``stop()`` the row is gone (Prometheus drops the target at its next refresh).
- the_heartbeat_interval_comes_from_the_environment: ``interval``, else ``$CURVEWATCH_SD_HEARTBEAT_S``, else
  ``HEARTBEAT_INTERVAL_S``.
- a_bad_label_name_is_refused_before_anything_is_registered: one bad name would make Prometheus drop the
  whole HTTP SD answer, every other trainer's target included.
- the_run_id_follows_the_endpoints_runs: ``run_id`` may be a callable, read at every heartbeat (an exporter
  that adds runs after it started; its ids joined by ``,``).
- a_database_outage_never_stops_training: a failing heartbeat is logged (at most once a minute) and retried;
  the next one that succeeds restores the row, even one the sd-server already expired.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from curvewatch.archive.registrations import RUN_ID_MAX_CHARS, delete_registration, heartbeat
from curvewatch.archive.registry import Registry
from curvewatch.discovery.http_sd import valid_label_name
from curvewatch.discovery.settings import CONNECT_TIMEOUT_S, HEARTBEAT_ENV, HEARTBEAT_INTERVAL_S, WARN_EVERY_S

__all__ = ["EndpointRegistration"]

log = logging.getLogger(__name__)


class EndpointRegistration:
    """Keeps ``address`` (the ``host:port`` Prometheus should scrape) in the registry's live endpoints."""

    def __init__(
        self,
        db_url: str,
        address: str,
        *,
        run_id: str | Callable[[], str],
        rank: int = 0,
        labels: Mapping[str, str] | None = None,
        interval: float | None = None,
    ):
        interval = _interval() if interval is None else interval
        if interval <= 0:
            raise ValueError(f"The heartbeat interval must be above 0 seconds, got {interval}.")
        if not address or ":" not in address:
            raise ValueError(f"The advertised address must be host:port, got {address!r}.")
        self.db_url, self.address, self.run_id, self.rank = db_url, address, run_id, int(rank)
        self.labels = {str(k): str(v) for k, v in (labels or {}).items()}
        bad = sorted(name for name in self.labels if not valid_label_name(name))
        if bad:
            raise ValueError(f"Target label names {bad} are not valid Prometheus label names; use letters, digits "
                             "and _ (not a leading digit, not a leading __).")
        self.interval = float(interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: sa.Engine | None = None  # no pool: no idle connection between beats
        self._last_warning = -float("inf")
        self.beats = 0  # heartbeats that reached the database

    def current_run_id(self) -> str:
        """The run id to record now (``run_id`` may be a callable: an endpoint whose runs change)."""
        run_id = self.run_id() if callable(self.run_id) else self.run_id
        return run_id[:RUN_ID_MAX_CHARS]

    def start(self) -> EndpointRegistration:
        """Register now, then refresh the heartbeat in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError(f"The registration of {self.address} is already running; call stop() first.")
        self._stop.clear()
        self._beat()
        self._thread = threading.Thread(target=self._loop, name=f"curvewatch-sd-{self.address}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the heartbeat and delete the entry (idempotent; a failure is logged, the row then expires)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=self.interval + 30)
        try:
            if self._engine is not None:
                with self._engine.begin() as conn:
                    delete_registration(conn, self.address)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("curvewatch: could not remove %s from the registry (%s); it expires by itself.",
                        self.address, exc)
        finally:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()

    def _beat(self) -> None:
        try:
            if self._engine is None:
                self._engine = _open(self.db_url)
            with self._engine.begin() as conn:
                heartbeat(conn, self.address, run_id=self.current_run_id(), rank=self.rank, labels=self.labels)
            self.beats += 1
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            now = time.monotonic()
            if now - self._last_warning >= WARN_EVERY_S:
                self._last_warning = now
                log.warning("curvewatch: could not register %s in the registry (%s); retrying every %gs, "
                            "training goes on.", self.address, exc, self.interval)

    def __enter__(self) -> EndpointRegistration:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interval() -> float:
    """``$CURVEWATCH_SD_HEARTBEAT_S`` if set, else ``HEARTBEAT_INTERVAL_S``."""
    text = os.environ.get(HEARTBEAT_ENV)
    if not text:
        return HEARTBEAT_INTERVAL_S
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"${HEARTBEAT_ENV} must be a number of seconds, got {text!r}.") from None


def _open(db_url: str) -> sa.Engine:
    """An engine without a connection pool on the registry at ``db_url``, its tables created first.

    Each heartbeat connects and disconnects: a fleet of trainers holds no idle connections between beats
    (PostgreSQL's ``max_connections`` is 100 by default). A malformed URL raises a sentence.
    """
    try:
        Registry(db_url).dispose()
        # A beat against an unreachable PostgreSQL gives up after CONNECT_TIMEOUT_S instead of TCP's minutes.
        args = {"connect_timeout": CONNECT_TIMEOUT_S} if db_url.startswith("postgresql") else {}
        return sa.create_engine(db_url, poolclass=sa.pool.NullPool, connect_args=args)
    except ModuleNotFoundError as exc:
        raise ValueError(f"The registry URL {db_url!r} needs the database driver {exc.name!r}; for PostgreSQL "
                         "run: pip install 'curvewatch[postgres]'.") from None
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"The registry URL {db_url!r} is not a database URL ({exc}); pass one like "
                         "postgresql+psycopg://user@host/db or sqlite:////path/registry.sqlite3.") from None
