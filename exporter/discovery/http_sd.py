"""``curvewatch sd-server``: the registry's live endpoints in Prometheus' HTTP service discovery format.

``GET /targets`` answers ``[{"targets": ["host:port"], "labels": {...}}, ...]`` (``application/json``),
one group per live registration, the way ``http_sd_configs`` expects; ``GET /-/ready`` answers 200.
Point Prometheus at it::

    scrape_configs:
      - job_name: curvewatch
        http_sd_configs: [{url: "http://sd-host:9109/targets", refresh_interval: 30s}]

Guarantees (tests named after them in tests/test_scale_http_sd.py):
- only_live_registrations_are_served: an entry whose heartbeat is ``max_age`` seconds old is left out and
  deleted from the table.
- labels_are_target_labels_and_run_and_rank_are_meta_labels: a registration's labels become target labels;
  its run id and rank are ``__meta_curvewatch_run_id`` / ``__meta_curvewatch_rank`` (for relabelling; they
  never clash with the ``run_id``/``rank`` every series already carries).
- a_row_with_a_bad_label_name_is_left_out: Prometheus would refuse the whole answer for it.
- a_database_outage_answers_503: Prometheus then keeps the targets of its last successful refresh.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from curvewatch.archive.registrations import live_registrations, purge_stale
from curvewatch.archive.registry import Registry
from curvewatch.discovery.settings import MAX_AGE_S, META_PREFIX, SD_ADDR, SD_PATH, SD_PORT

__all__ = ["SDServer", "target_groups", "valid_label_name"]

log = logging.getLogger(__name__)
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def valid_label_name(name: str) -> bool:
    """A Prometheus label name that is not reserved (``__`` prefix)."""
    return bool(_LABEL_NAME.fullmatch(name)) and not name.startswith("__")


def target_groups(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """HTTP SD target groups (one per registration) from rows of ``endpoint_registrations``."""
    groups = []
    for row in rows:
        labels = {str(k): str(v) for k, v in (row.get("labels") or {}).items()}
        if not all(valid_label_name(name) for name in labels):
            log.warning("curvewatch sd-server: left out %s: its labels %s have an invalid name.",
                        row["address"], sorted(labels))
            continue
        labels[f"{META_PREFIX}run_id"] = str(row["run_id"])
        labels[f"{META_PREFIX}rank"] = str(row["rank"])
        groups.append({"targets": [row["address"]], "labels": dict(sorted(labels.items()))})
    return groups


class SDServer:
    """Serves the live registrations of ``registry`` (a :class:`Registry` or its URL) over HTTP.

    >>> server = SDServer("postgresql+psycopg://...", port=0, max_age=45)
    >>> server.start()                 # a daemon thread; server.url is http://127.0.0.1:<port>/targets
    >>> server.stop()
    """

    def __init__(self, registry: Registry | str, *, addr: str = SD_ADDR, port: int = SD_PORT,
                 max_age: float = MAX_AGE_S):
        if max_age <= 0:
            raise ValueError(f"max_age must be above 0 seconds, got {max_age}.")
        self.registry = Registry(registry) if isinstance(registry, str) else registry
        self.max_age = float(max_age)
        self._httpd = ThreadingHTTPServer((addr, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host}:{self.port}{SD_PATH}"

    def groups(self) -> list[dict[str, Any]]:
        """Delete stale entries and return the live ones as target groups (one transaction)."""
        with self.registry.engine.begin() as conn:
            purged = purge_stale(conn, self.max_age)
            rows = live_registrations(conn, self.max_age)
        if purged:
            log.info("curvewatch sd-server: expired %d registration(s) older than %gs.", purged, self.max_age)
        return target_groups(rows)

    def start(self) -> int:
        """Serve in a daemon thread; returns the port."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="curvewatch-sd-server", daemon=True)
        self._thread.start()
        return self.port

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` is called from another one (or KeyboardInterrupt)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()


def _handler(server: SDServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path == "/-/ready":
                return self._send(200, "text/plain; charset=utf-8", b"ready\n")
            if path != SD_PATH:
                return self._send(404, "text/plain; charset=utf-8", f"Not found; use {SD_PATH}.\n".encode())
            try:
                body = json.dumps(server.groups(), separators=(",", ":")).encode()
            except sa.exc.SQLAlchemyError as exc:
                log.warning("curvewatch sd-server: the registry cannot be read (%s).", exc)
                message = "The registry database cannot be read; Prometheus keeps its last targets.\n"
                return self._send(503, "text/plain; charset=utf-8", message.encode())
            self._send(200, "application/json", body)

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class' name
            """Log nothing per request."""

    return Handler
