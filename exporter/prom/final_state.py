"""The final-state grace: after ``finished``/``failed`` the endpoint stays up until its scrapers saw it.

Prometheus only knows a run ended if it scrapes the final state; an endpoint that stops in the same
moment shows a crash as a target that vanished. :class:`FinalStateGrace` watches who scrapes the
endpoint (by client address) and answers how long to keep serving once the state is final:

- until every client that scraped the endpoint in the last ``grace`` seconds has scraped it once more
  (so each Prometheus of an HA pair has seen the final state), at most ``grace`` seconds;
- the whole ``grace`` when nobody scraped yet but a file_sd target was written (a Prometheus was
  told about the endpoint and is on its way);
- not at all when nobody scraped and nobody was told (no one is watching this endpoint).

>>> grace = FinalStateGrace(30.0)
>>> grace.scraped("10.0.0.5")          # the server calls this after each scrape
>>> grace.final()                      # the state became finished or failed
>>> grace.wait(announced=False)        # returns once 10.0.0.5 scraped again, or after 30 s
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["FinalStateGrace"]


class FinalStateGrace:
    """Scrapes seen per client address, and the wait for the final state to be scraped by each of them."""

    def __init__(self, grace: float) -> None:
        if not isinstance(grace, int | float) or isinstance(grace, bool) or not grace >= 0 or math.isinf(grace):
            raise ValueError(f"`final_grace` must be a number of seconds, 0 or more, got {grace!r}.")
        self.grace = float(grace)
        self._cond = threading.Condition()
        self._last_seen: dict[str, float] = {}  # client address -> monotonic time of its last scrape
        self._final_at: float | None = None
        self._waiting_for: set[str] = set()

    def scraped(self, client: str) -> None:
        """Record one scrape by ``client`` (the server calls this after each response)."""
        with self._cond:
            self._last_seen[client] = time.monotonic()
            if self._final_at is not None:
                self._waiting_for.discard(client)
                self._cond.notify_all()

    def final(self) -> None:
        """The state just became final: from now on each recent scraper has to scrape once more."""
        with self._cond:
            if self._final_at is not None:
                return
            now = time.monotonic()
            self._final_at = now
            self._waiting_for = {c for c, t in self._last_seen.items() if now - t <= self.grace}

    def reset(self) -> None:
        """The state is not final (any more): forget the final moment, keep the scrapers seen."""
        with self._cond:
            self._final_at = None
            self._waiting_for = set()

    @property
    def ever_scraped(self) -> bool:
        with self._cond:
            return bool(self._last_seen)

    def wait(self, *, announced: bool, limit: float | None = None) -> float:
        """Block until the final state was scraped by every recent scraper (see the module), at most ``limit``
        seconds after it became final (default: ``grace``); return the seconds waited."""
        if limit is not None and not limit >= 0:
            raise ValueError(f"`grace` must be a number of seconds, 0 or more, got {limit!r}.")
        self.final()
        with self._cond:
            start = time.monotonic()
            deadline = (self._final_at or start) + (self.grace if limit is None else limit)
            if not self._last_seen and not announced:
                return 0.0
            while time.monotonic() < deadline and (self._waiting_for or not self._last_seen):
                self._cond.wait(timeout=deadline - time.monotonic())
            return time.monotonic() - start
