"""Pushgateway calls with a total deadline: the end of a run never waits on a slow network for long.

prometheus_client's default handler passes ``timeout`` to every socket operation, so a gateway that
trickles one byte every few seconds holds a push for minutes. ``call_with_deadline`` runs one
``push_to_gateway`` / ``delete_from_gateway`` call in a worker thread through a handler whose connection
it can close: when the deadline passes, the socket is shut down (the worker wakes at once) and
``PushError`` is raised.

Guarantees (tests named after them in ``tests/test_hardening_push.py``):
- push_ends_within_its_deadline: a gateway that stalls, trickles or never answers costs at most the
  deadline (plus the time to shut a socket).
- every_push_failure_is_a_push_error: refused connections, HTTP errors, non-HTTP replies
  (``BadStatusLine``) and any other exception become ``PushError`` with a sentence.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from curvewatch.prom.errors import PushError

__all__ = ["call_with_deadline"]

_MAX_REPLY_BYTES = 64 * 1024  # a Pushgateway answers with a few bytes; read no more than this
_ABORT_GRACE_S = 1.0  # after shutting the socket, the worker's wake-up is waited for this long


class _Attempt:
    """One call's connection, which the caller can abort from another thread."""

    def __init__(self, per_operation_timeout: float) -> None:
        self._timeout = per_operation_timeout
        self._lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None
        self._aborted = False

    def handler(self, url: str, method: str, timeout: float | None, headers: list, data: bytes) -> Callable:
        """A prometheus_client push handler (``handler=`` of ``push_to_gateway``)."""

        def handle() -> None:
            parts = urlsplit(url)
            if parts.scheme == "https":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self._timeout)
            with self._lock:
                if self._aborted:
                    return
                self._conn = conn
            try:
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                conn.request(method, target or "/", body=data, headers=dict(headers))
                reply = conn.getresponse()
                body = reply.read(_MAX_REPLY_BYTES)
                if reply.status >= 400:
                    text = body.decode("utf-8", "replace").strip()[:200]
                    raise PushError(f"HTTP {reply.status} {reply.reason}" + (f": {text}" if text else ""))
            finally:
                conn.close()

        return handle

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def call_with_deadline(fn: Callable[..., Any], gateway_url: str, deadline_s: float, **kwargs: Any) -> None:
    """Call ``fn(gateway_url, handler=..., **kwargs)``; raise ``PushError`` on any failure or when it has
    not finished ``deadline_s`` seconds after the call. The error's message is the reason alone (the
    caller says what was being pushed where)."""
    if deadline_s <= 0:
        raise PushError("no time was left before the push's deadline")
    attempt = _Attempt(per_operation_timeout=deadline_s)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            fn(gateway_url, handler=attempt.handler, **kwargs)
        except BaseException as exc:  # reported to the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=work, name="curvewatch-push", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        attempt.abort()
        worker.join(_ABORT_GRACE_S)
        raise PushError(f"no complete answer within the {deadline_s:.3g} s deadline; gave up after "
                        f"{time.monotonic() - started:.1f} s")
    if failure:
        exc = failure[0]
        if isinstance(exc, PushError):
            raise PushError(str(exc)) from None
        reason = str(exc).strip() or type(exc).__name__
        raise PushError(f"{type(exc).__name__}: {reason[:200]}") from exc
