"""A misbehaving Pushgateway never holds or breaks the end of a run (issue 16, failure 5).

Fake gateways on 127.0.0.1 (real sockets, each in a thread, stopped at the end of its test): one answers
garbage (not HTTP), one trickles a byte every ``TRICKLE_INTERVAL_S``, one accepts and never answers. Each
bounded by the test's own deadline; no sleeps in the test's thread.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from curvewatch.prom import Exporter, PushError, RunInfo, watch
from curvewatch.prom.push import call_with_deadline
from prometheus_client import push_to_gateway
from prometheus_client.registry import CollectorRegistry

DEADLINE_S = 2.0
SLACK_S = 2.0  # thread start-up and socket shutdown on a loaded 2-core machine
TRICKLE_INTERVAL_S = 0.5


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"SSH-2.0-OpenSSH_9.2 not a gateway\r\n\r\n")


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
        if stop.wait(TRICKLE_INTERVAL_S):
            return
        conn.sendall(bytes([byte]))


def _stall(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(60)


def _http_500(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nboom!")


BEHAVIOURS: dict[str, Callable[[socket.socket, threading.Event], None]] = {
    "garbage": _garbage,
    "trickle": _trickle,
    "stall": _stall,
    "http_500": _http_500,
}


@pytest.fixture(params=sorted(BEHAVIOURS))
def fake_gateway(request: pytest.FixtureRequest) -> Iterator[str]:
    behaviour = BEHAVIOURS[request.param]
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            threading.Thread(target=_guarded, args=(behaviour, conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    server.close()
    for conn in conns:
        conn.close()


def _guarded(behaviour: Callable, conn: socket.socket, stop: threading.Event) -> None:
    try:
        behaviour(conn, stop)
    except OSError:
        pass  # the client gave up: that is the point


def test_push_ends_within_its_deadline(fake_gateway: str) -> None:
    registry = CollectorRegistry()
    started = time.monotonic()
    with pytest.raises(PushError):
        call_with_deadline(push_to_gateway, fake_gateway, DEADLINE_S, job="j", registry=registry)
    assert time.monotonic() - started < DEADLINE_S + SLACK_S


def test_every_push_failure_is_a_push_error(fake_gateway: str) -> None:
    exporter = Exporter()
    exporter.add(_Doc(), RunInfo(run_id="r1", rank=0))
    with pytest.raises(PushError, match=f"The Pushgateway at {fake_gateway} could not push job 'curvewatch'"):
        exporter.push(fake_gateway, timeout=DEADLINE_S)


def test_the_run_ends_within_the_deadline_and_the_endpoint_stops(
    fake_gateway: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curvewatch.prom import _names

    monkeypatch.setattr(_names, "PUSH_TIMEOUT_S", DEADLINE_S)
    monkeypatch.setattr(Exporter.push, "__kwdefaults__", {**Exporter.push.__kwdefaults__, "timeout": DEADLINE_S})
    caplog.set_level(logging.WARNING, logger="curvewatch")
    with watch("hostile-gateway", pushgateway=fake_gateway) as (rec, exporter):
        rec.chart("loss", ["loss"])
        rec.log(0, loss=1.0)
        url = exporter.url
        assert requests.get(url, timeout=5).status_code == 200
        ending = time.monotonic()  # from here: the final push and the endpoint's stop
    assert time.monotonic() - ending < DEADLINE_S + SLACK_S
    assert "the final push of run 'hostile-gateway' failed" in caplog.text
    pushes = [r for r in caplog.records if "final push" in r.getMessage()]
    assert len(pushes) == 1 and pushes[0].exc_info is None  # one sentence, no chained tracebacks
    assert f"The Pushgateway at {fake_gateway}" in pushes[0].getMessage()  # with the reason
    assert "Traceback" not in caplog.text
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)  # the endpoint stopped regardless


class _Doc:
    """The smallest source: a finished recorder's live view."""

    def __init__(self) -> None:
        from curvewatch import CurveRecorder

        rec = CurveRecorder(budget=8)
        rec.chart("loss", ["loss"])
        rec.log(0, loss=1.0)
        self._view = rec.live()

    def live(self):  # noqa: ANN201 - the collector's protocol
        return self._view
