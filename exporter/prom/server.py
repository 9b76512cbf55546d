"""The HTTP(S) endpoint: prometheus_client's WSGI app in a threaded server, with optional TLS and basic auth.

>>> server = MetricsServer(registry, port=0)    # port=0 picks a free port
>>> server.start()                             # serves in a daemon thread, returns the port
40123
>>> server.stop()

prometheus_client's ``start_http_server`` does the TLS handshake in its accept loop (one silent client
stalls every scrape) and has no basic auth, so this module builds the same server with the handshake
done in each request's own thread, under a timeout.
"""

from __future__ import annotations

import base64
import errno
import hmac
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from curvewatch.prom._names import CLIENT_TIMEOUT_S, DEFAULT_ADDR, LISTEN_BACKLOG, SERVE_POLL_INTERVAL_S
from curvewatch.prom.errors import CertificateFileError, PortInUseError
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import CollectorRegistry

__all__ = ["MetricsServer"]

log = logging.getLogger(__name__)

_REALM = "curvewatch"


class _Handler(WSGIRequestHandler):
    """Silent request handler; finishes the TLS handshake in the request's thread, under a timeout."""

    timeout = CLIENT_TIMEOUT_S

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class' name
        """Log nothing per request."""


class _Server(ThreadingWSGIServer):
    request_queue_size = LISTEN_BACKLOG  # socketserver's default is 5: a burst of scrapes would be refused

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that fails the TLS handshake or hangs up is its own problem: never a traceback on stderr.
        log.debug("curvewatch endpoint: request from %s failed", client_address, exc_info=True)


def _check_file(path: str | os.PathLike[str], what: str) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CertificateFileError(f"The {what} {path!r} does not exist; pass the path of an existing PEM file.")
    return path


def _tls_context(
    certfile: str, keyfile: str | None, client_cafile: str | None, client_auth_required: bool
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        raise ValueError(
            f"Cannot load the TLS certificate {certfile!r} with the key {keyfile!r} ({exc}); "
            f"check that both are PEM files and that the key matches the certificate."
        ) from None
    if client_cafile is not None:
        try:
            context.load_verify_locations(cafile=client_cafile)
        except ssl.SSLError as exc:
            raise ValueError(f"Cannot load the client CA file {client_cafile!r} ({exc}); pass a PEM file.") from None
        context.verify_mode = ssl.CERT_REQUIRED if client_auth_required else ssl.CERT_OPTIONAL
    return context


def _basic_auth(app: Callable, username: str, password: str) -> Callable:
    expected = base64.b64encode(f"{username}:{password}".encode())

    def guarded(environ: dict, start_response: Callable) -> Iterable[bytes]:
        scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        given = credentials.strip().encode("latin-1", "replace")
        # RFC 7235: the scheme is case-insensitive ("basic" is "Basic"); the credentials are compared in
        # constant time.
        if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
            start_response(
                "401 Unauthorized",
                [
                    ("WWW-Authenticate", f'Basic realm="{_REALM}"'),
                    ("Content-Type", "text/plain; charset=utf-8"),
                ],
            )
            return [b"This endpoint needs basic auth credentials.\n"]
        return app(environ, start_response)

    return guarded


def _observed(app: Callable, on_scrape: Callable[[str], None]) -> Callable:
    def observed(environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = app(environ, start_response)
        on_scrape(environ.get("REMOTE_ADDR", ""))
        return body

    return observed


class MetricsServer:
    """Serves ``registry`` on ``addr:port`` in a daemon thread.

    TLS with ``certfile`` (and ``keyfile``), mutual TLS with ``client_cafile`` and
    ``client_auth_required=True``, basic auth with ``basic_auth=(username, password)``.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        port: int = 0,
        addr: str = DEFAULT_ADDR,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        client_cafile: str | os.PathLike[str] | None = None,
        client_auth_required: bool = False,
        basic_auth: tuple[str, str] | None = None,
        on_scrape: Callable[[str], None] | None = None,
    ):
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"`port` must be an integer from 0 to 65535 (0 picks a free one), got {port!r}.")
        if certfile is None and (keyfile is not None or client_cafile is not None or client_auth_required):
            raise ValueError("keyfile, client_cafile and client_auth_required need TLS; pass certfile too.")
        if client_auth_required and client_cafile is None:
            raise ValueError("client_auth_required=True needs client_cafile, the CA that signs client certificates.")
        if basic_auth is not None and (len(basic_auth) != 2 or not all(isinstance(s, str) for s in basic_auth)):
            raise ValueError("`basic_auth` must be a (username, password) pair of strings.")
        self._registry, self.port, self.addr = registry, port, addr
        self._certfile = None if certfile is None else _check_file(certfile, "TLS certificate file (certfile)")
        self._keyfile = None if keyfile is None else _check_file(keyfile, "TLS key file (keyfile)")
        self._client_cafile = (
            None if client_cafile is None else _check_file(client_cafile, "client CA file (client_cafile)")
        )
        self._client_auth_required = client_auth_required
        self._basic_auth = basic_auth
        self._on_scrape = on_scrape  # called with each scraping client's address (the final-state grace)
        if basic_auth is not None and certfile is None and addr not in ("127.0.0.1", "localhost", "::1"):
            log.warning("curvewatch: basic auth without TLS on %s sends the password in clear text; "
                        "pass certfile/keyfile to serve HTTPS.", addr)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http(s)://addr:port/metrics`` once started."""
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"{'https' if self._certfile else 'http'}://{host}:{self.port}/metrics"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> int:
        """Bind and serve; return the port (the one picked when ``port=0``)."""
        if self._httpd is not None:
            return self.port
        context = (
            None
            if self._certfile is None
            else _tls_context(self._certfile, self._keyfile, self._client_cafile, self._client_auth_required)
        )
        app = make_wsgi_app(self._registry)
        if self._on_scrape is not None:
            app = _observed(app, self._on_scrape)
        if self._basic_auth is not None:
            app = _basic_auth(app, *self._basic_auth)

        class Server(_Server):
            address_family = socket.getaddrinfo(self.addr, self.port, type=socket.SOCK_STREAM)[0][0]

        try:
            httpd = make_server(self.addr, self.port, app, Server, handler_class=_Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.port, self.addr) from None
            raise
        if context is not None:
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            args=(SERVE_POLL_INTERVAL_S,),
            name=f"curvewatch-endpoint-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("curvewatch: serving metrics on %s", self.url)
        return self.port

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=CLIENT_TIMEOUT_S)
