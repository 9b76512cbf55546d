"""What the benches that start servers on 127.0.0.1 share: a free port, and polling one until it answers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import requests

__all__ = ["free_port", "poll"]

POLL_S = 0.2


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], bool], timeout_s: float, failure: Callable[[], BaseException],
         dead: Callable[[], bool] = lambda: False) -> None:
    """Call ``check`` every ``POLL_S`` seconds until it is true (a refused connection counts as not yet);
    raise ``failure()`` once ``timeout_s`` have passed or ``dead()`` (the server exited)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except requests.ConnectionError:
            pass
        if dead() or time.monotonic() > deadline:
            raise failure()
        time.sleep(POLL_S)
