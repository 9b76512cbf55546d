"""The object a training process holds: collector + registry + endpoint + Pushgateway + rank rules.

>>> rec = CurveRecorder(budget=1000)
>>> exporter = Exporter(rec, run=RunInfo(run_id="mlp-1", model_type="mlp"))
>>> port = exporter.start(port=0)          # background thread; point Prometheus at exporter.url
>>> ... rec.log(step, train_loss=loss) ...  # nothing else per step: scrapes read rec.live()
>>> exporter.state = "finished"
>>> exporter.push("http://127.0.0.1:9091")  # optional, for short jobs
>>> exporter.stop()                         # serves the final state to its scrapers first (final_grace)

Or ``with Exporter(rec, run=...) as exporter:`` (starts on a free port unless already started; an
exception inside marks the run ``failed``; the endpoint stops at the end). See :mod:`exporter.prom.ranks`
for torchrun (``ranks="all"`` or ``"zero"``).

Final states are always seen: once every run is ``finished`` or ``failed``, :meth:`Exporter.stop`
pushes the final values when ``pushgateway`` is given, or else keeps the endpoint (and its file_sd
target) up until each recent scraper scraped the final state, at most ``final_grace`` seconds
(:mod:`exporter.prom.final_state`). ``stop(grace=0)`` stops at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from curvewatch.prom import _names as n
from curvewatch.prom.collector import CurveCollector
from curvewatch.prom.discovery import TargetFile, sd_target_address
from curvewatch.prom.errors import PushError
from curvewatch.prom.final_state import FinalStateGrace
from curvewatch.prom.push import call_with_deadline
from curvewatch.prom.ranks import check_ranks, endpoint_port, is_active
from curvewatch.prom.run_info import RunInfo, local_rank_from_env, rank_from_env
from curvewatch.prom.server import MetricsServer
from prometheus_client import delete_from_gateway, push_to_gateway
from prometheus_client.registry import CollectorRegistry

__all__ = ["FINAL_OPTIONS", "START_OPTIONS", "Exporter"]

log = logging.getLogger(__name__)

# Keywords of Exporter() that say how the final state reaches Prometheus, and of Exporter.start() besides port
# and addr (TLS, basic auth, discovery): what watch() and RunTracker(serve_options=...) pass through.
FINAL_OPTIONS = ("final_grace", "pushgateway", "push_job")
START_OPTIONS = ("certfile", "keyfile", "client_cafile", "client_auth_required", "basic_auth", "sd_file",
                 "sd_address", "registry_url", "sd_labels")


class Exporter:
    """Exposes one or more recorders on a Prometheus endpoint and pushes them to a Pushgateway.

    ``recorder`` is a recorder (named by ``run``, a :class:`RunInfo` or a run id) or a sequence of
    ``(recorder, RunInfo)`` pairs; more runs can be added with :meth:`add`.
    """

    def __init__(
        self,
        recorder: Any = None,
        run: RunInfo | str | None = None,
        *,
        registry: CollectorRegistry | None = None,
        ranks: str = n.RANKS_ALL,
        environ: Mapping[str, str] | None = None,
        final_grace: float = n.FINAL_GRACE_S,
        pushgateway: str | None = None,
        push_job: str = n.DEFAULT_JOB,
    ):
        environ = os.environ if environ is None else environ
        self._grace = FinalStateGrace(final_grace)
        self.pushgateway, self.push_job = pushgateway, push_job
        self._final_pushed = False
        self.ranks = check_ranks(ranks)
        self.rank, self.local_rank = rank_from_env(environ), local_rank_from_env(environ)
        self._environ = environ
        self.registry = CollectorRegistry() if registry is None else registry
        self.collector = CurveCollector(registry=self.registry)
        self._server: MetricsServer | None = None
        self._target: TargetFile | None = None
        self._registration: Any = None  # curvewatch.discovery.EndpointRegistration while registered
        if isinstance(recorder, Sequence):
            if run is not None:
                raise ValueError("Pass either (recorder, RunInfo) pairs or one recorder with run=, not both.")
            for pair in recorder:
                self.add(*pair)
        elif recorder is not None:
            if run is None:
                raise ValueError("Pass run=RunInfo(run_id=...) (or a run id string) to name the recorder's run.")
            self.add(recorder, run)

    def add(self, recorder: Any, run: RunInfo | str, *, start_time: float | None = None) -> RunInfo:
        """Expose another recorder; a string ``run`` is a run id (host and rank from this process)."""
        info = RunInfo(run_id=run, rank=self.rank) if isinstance(run, str) else run
        self.collector.add(recorder, info, start_time=start_time)
        return info

    @property
    def active(self) -> bool:
        """False on the ranks that neither serve nor push (``ranks="zero"`` on a rank other than 0)."""
        return is_active(self.ranks, self.rank)

    @property
    def state(self) -> str:
        """The first run's state: ``running``, ``finished`` or ``failed`` (settable for every run)."""
        return self.collector.state()

    @state.setter
    def state(self, value: str) -> None:
        self.set_state(value)

    def set_state(self, state: str, run_id: str | None = None) -> None:
        """Set the state of one run (default: every run)."""
        self.collector.set_state(state, run_id)
        if self.is_final:
            self._grace.final()
        else:
            self._grace.reset()

    @property
    def is_final(self) -> bool:
        """True when every run exposed is ``finished`` or ``failed``."""
        runs = self.collector.runs()
        return bool(runs) and all(self.collector.state(info.run_id) in n.FINAL_STATES for info in runs)

    @property
    def url(self) -> str | None:
        """The scrape URL (``http(s)://addr:port/metrics``), None until started or on an inactive rank."""
        return None if self._server is None else self._server.url

    @property
    def target_file(self) -> Path | None:
        """The file_sd target file written by :meth:`start` (``sd_file``), None without one."""
        return None if self._target is None else self._target.path

    @property
    def port(self) -> int | None:
        return None if self._server is None else self._server.port

    def start(
        self,
        port: int = 0,
        addr: str = n.DEFAULT_ADDR,
        *,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        client_cafile: str | os.PathLike[str] | None = None,
        client_auth_required: bool = False,
        basic_auth: tuple[str, str] | None = None,
        sd_file: str | os.PathLike[str] | None = None,
        sd_address: str | None = None,
        registry_url: str | None = None,
        sd_labels: Mapping[str, str] | None = None,
    ) -> int | None:
        """Serve in a background thread; return the port (picked when ``port=0``), None on an inactive rank.

        Under ``ranks="all"`` the port is ``port + LOCAL_RANK``. TLS with ``certfile``/``keyfile``; mutual
        TLS with ``client_cafile`` and ``client_auth_required=True``; ``basic_auth=(user, password)``.
        ``sd_file`` (a ``.json`` path, or a directory such as ``prometheus/targets``) registers the endpoint
        with Prometheus' file-based discovery until :meth:`stop`; ``sd_address`` overrides the ``host:port``
        written there (default: ``addr:port``, or this host's name when ``addr`` is ``0.0.0.0``).
        ``registry_url`` (default: ``$CURVEWATCH_SD_REGISTRY_URL``) registers that address (with ``sd_labels``)
        in the shared registry's live endpoints, heartbeat included, until :meth:`stop`, for
        ``curvewatch sd-server`` (:mod:`curvewatch.discovery`).
        """
        if self._server is not None:
            raise RuntimeError(f"This exporter already serves on {self._server.url}; call stop() first.")
        actual = endpoint_port(port, self.ranks, self.rank, self.local_rank)
        self._grace = FinalStateGrace(self._grace.grace)  # scrapers of an earlier start do not count
        if actual is None:
            log.info("curvewatch: rank %d does not serve (ranks=%r).", self.rank, self.ranks)
            return None
        server = MetricsServer(
            self.registry,
            port=actual,
            addr=addr,
            certfile=certfile,
            keyfile=keyfile,
            client_cafile=client_cafile,
            client_auth_required=client_auth_required,
            basic_auth=basic_auth,
            on_scrape=self._grace.scraped,
        )
        server.start()
        if sd_file is not None:
            try:
                address = sd_target_address(sd_address, addr, server.port)
            except ValueError:
                server.stop()
                raise
            path = Path(sd_file)
            if path.suffix != ".json":  # a directory: one file per endpoint
                path = path / f"curvewatch-{socket.gethostname()}-{server.port}.json"
            self._target = TargetFile(path, address, self._target_labels())
            self._target.write()
        registry_url = registry_url or _registry_url_from(self._environ)
        if registry_url:
            try:
                self._registration = _registration(self, registry_url,
                                                   sd_target_address(sd_address, addr, server.port), sd_labels)
            except BaseException:
                if self._target is not None:
                    self._target.remove()
                    self._target = None
                server.stop()
                raise
        self._server = server
        return server.port

    def _target_labels(self) -> dict[str, str]:
        """The run (ids joined by ``,`` when one endpoint serves several) and rank, for ``up``'s labels."""
        run_ids = ",".join(dict.fromkeys(info.run_id for info in self.collector.runs()))
        return {n.SD_RUN_ID_LABEL: run_ids, n.SD_RANK_LABEL: str(self.rank)} if run_ids else {}

    def stop(self, grace: float | None = None) -> float:
        """Stop the endpoint (idempotent; the runs stay registered); return the seconds spent serving the final state.

        When every run is finished or failed, the final values are pushed to ``pushgateway`` if one was
        given; otherwise the endpoint and its target file stay until each recent scraper has scraped
        the final state, at most ``grace`` seconds (default: ``final_grace``).
        """
        waited = 0.0
        try:
            if self.is_final and self.pushgateway is not None:
                if not self._final_pushed:
                    self._push_final()
            elif self._server is not None and self.is_final:
                if grace is None or grace > 0:
                    waited = self._grace.wait(announced=self._target is not None or self._registration is not None,
                                            limit=grace)
        finally:
            server, self._server = self._server, None
            target, self._target = self._target, None
            registration, self._registration = self._registration, None
            if target is not None:
                target.remove()
            if registration is not None:
                registration.stop()
            if server is not None:
                server.stop()
        return waited

    def _push_final(self) -> None:
        self._final_pushed = True
        try:
            self.push(self.pushgateway, self.push_job)
        except Exception as exc:  # PushError or anything else: one warning, and stop() still stops the endpoint
            runs = ", ".join(repr(info.run_id) for info in self.collector.runs())
            reason = str(exc) if isinstance(exc, PushError) else f"{type(exc).__name__}: {exc}"
            log.warning("curvewatch: the final push of run %s failed; Prometheus may not see how the run ended "
                        "(the run itself is unaffected). %s", runs, reason)

    def _run_ids(self, run_id: str | None) -> list[tuple[str, int]]:
        runs = [(info.run_id, info.rank) for info in self.collector.runs()]
        if run_id is not None:
            runs = [key for key in runs if key[0] == run_id]
            if not runs:
                raise KeyError(f"No run {run_id!r} is exposed by this exporter.")
        return runs

    def push(
        self,
        gateway_url: str,
        job: str = n.DEFAULT_JOB,
        *,
        run_id: str | None = None,
        timeout: float = n.PUSH_TIMEOUT_S,
    ) -> list[dict[str, str]]:
        """Push each run's current values (or ``run_id``'s) to the Pushgateway, replacing its group.

        The grouping key is ``run_id`` and ``rank`` under ``job`` (the rank keeps the groups of the ranks
        of one run apart). ``timeout`` is the total deadline of the whole push, every group included.
        Returns the grouping keys pushed; raises :class:`PushError` on any failure.
        """
        return self._each_group(push_to_gateway, gateway_url, job, run_id, timeout)

    def delete_from_gateway(
        self,
        gateway_url: str,
        job: str = n.DEFAULT_JOB,
        *,
        run_id: str | None = None,
        timeout: float = n.PUSH_TIMEOUT_S,
    ) -> list[dict[str, str]]:
        """Delete the groups :meth:`push` wrote (every run, or ``run_id``'s); returns their grouping keys."""
        return self._each_group(delete_from_gateway, gateway_url, job, run_id, timeout)

    def _each_group(
        self, fn: Any, gateway_url: str, job: str, run_id: str | None, timeout: float
    ) -> list[dict[str, str]]:
        """Call ``fn`` (push_to_gateway or delete_from_gateway) once per run's grouping key."""
        if not self.active:
            return []
        keys = []
        deadline = time.monotonic() + timeout
        for rid, rank in self._run_ids(run_id):
            key = {"run_id": rid, "rank": str(rank)}
            extra: dict[str, Any] = {}
            if fn is push_to_gateway:
                extra["registry"] = CollectorRegistry()
                extra["registry"].register(self.collector.only(rid))
            try:
                call_with_deadline(fn, gateway_url, deadline - time.monotonic(), job=job, grouping_key=key, **extra)
            except PushError as exc:
                action = "push" if fn is push_to_gateway else "delete"
                raise PushError(
                    f"The Pushgateway at {gateway_url} could not {action} job {job!r} group {key} ({exc}); "
                    "check the URL and that it is running."
                ) from exc
            keys.append(key)
        return keys

    def __enter__(self) -> Exporter:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and self.collector.runs() and self.state == n.RUNNING:
            self.state = n.FAILED
        self.stop(grace=0 if exc_type is KeyboardInterrupt else None)


def _registry_url_from(environ: Mapping[str, str]) -> str | None:
    from curvewatch.discovery.settings import REGISTRY_URL_ENV

    return environ.get(REGISTRY_URL_ENV) or None


def _registration(exporter: Exporter, db_url: str, address: str, labels: Mapping[str, str] | None) -> Any:
    """Register ``address`` with a heartbeat (imported here: SQLAlchemy is loaded only when asked for)."""
    from curvewatch.discovery import EndpointRegistration

    def run_ids() -> str:  # read at every heartbeat: runs may be added after start()
        return ",".join(dict.fromkeys(info.run_id for info in exporter.collector.runs()))

    return EndpointRegistration(db_url, address, run_id=run_ids, rank=exporter.rank, labels=labels).start()
