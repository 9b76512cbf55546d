"""The custom collector: reads each recorder's live view at scrape time, so logging costs nothing extra.

>>> registry = CollectorRegistry()
>>> collector = CurveCollector(registry=registry)
>>> collector.add(recorder, RunInfo(run_id="run-1"))      # as many runs as you like
>>> collector.set_state("finished", run_id="run-1")

Guarantees (each has a test named after it):
- scrape-time reads only: nothing is computed or stored per logged step; the window min/max come from
  the recorder's trailing wall-clock window, which a scrape never resets (two Prometheus servers agree);
- a failing recorder never breaks the scrape: its error is logged (at most once a minute per run), its
  run still reports info and state, and every other run is exposed in full;
- metric names, types and labels are exactly the table in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from curvewatch.prom import _names as n
from curvewatch.prom.run_info import RunInfo
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["CurveCollector", "effective_state"]

log = logging.getLogger(__name__)


class _LiveSource(Protocol):
    def live(self) -> Any: ...


# name -> (family class, HELP text, extra labels after run_id, rank)
_FAMILIES: dict[str, tuple[type[Metric], str, tuple[str, ...]]] = {
    n.RUN_INFO: (InfoMetricFamily, "Run metadata.", ()),
    n.RUN_STATE: (GaugeMetricFamily, "1 for the run's current state, 0 for the others.", (n.STATE_LABEL,)),
    n.RUN_START_TIME: (GaugeMetricFamily, "Unix time the run started.", ()),
    n.STEP: (GaugeMetricFamily, "Latest step.", ()),
    n.EPOCH: (GaugeMetricFamily, "Latest epoch.", ()),
    n.STEPS: (CounterMetricFamily, "Steps logged.", ()),
    n.LAST_STEP_TIMESTAMP: (GaugeMetricFamily, "Unix time of the last logged step.", ()),
    n.VALUE: (GaugeMetricFamily, "Latest value of each line.", n.LINE_LABELS),
    n.WINDOW_MIN: (
        GaugeMetricFamily,
        "Minimum of each line over the trailing wall-clock window.",
        n.LINE_LABELS,
    ),
    n.WINDOW_MAX: (
        GaugeMetricFamily,
        "Maximum of each line over the trailing wall-clock window.",
        n.LINE_LABELS,
    ),
    n.WINDOW_SECONDS: (GaugeMetricFamily, "Length of the trailing window in seconds.", ()),
    n.BEST_VALUE: (GaugeMetricFamily, "Best value so far of each tracked metric.", n.BEST_LABELS),
    n.BEST_STEP: (GaugeMetricFamily, "Step of the best value so far.", n.BEST_LABELS),
    n.STEPS_SINCE_BEST: (GaugeMetricFamily, "Latest step minus the best step.", n.BEST_LABELS),
    n.NONFINITE: (CounterMetricFamily, "NaN and infinite values logged per line.", n.LINE_LABELS),
    n.FIRST_NONFINITE_STEP: (
        GaugeMetricFamily,
        "Step of the first NaN or infinite value of a line.",
        n.LINE_LABELS,
    ),
    n.POINTS: (CounterMetricFamily, "Values logged per line.", n.LINE_LABELS),
}

Sample = tuple[str, tuple[str, ...], float]


def effective_state(state: str, view: Any | None) -> str:
    """The state to expose: the one set, except that a finalized recorder of a running run is finished."""
    if state == n.RUNNING and view is not None and getattr(view, "finalized", False):
        return n.FINISHED
    return state


def view_samples(view: Any) -> list[Sample]:
    """``(family, extra label values, value)`` for everything a live view says; None values are skipped."""
    samples: list[Sample] = [
        (n.STEPS, (), float(view.steps_total)),
        (n.WINDOW_SECONDS, (), float(view.window_seconds)),
    ]
    for family, value in (
        (n.STEP, view.step),
        (n.EPOCH, view.epoch),
        (n.LAST_STEP_TIMESTAMP, view.last_log_unixtime),
    ):
        if value is not None:
            samples.append((family, (), float(value)))
    for line in view.lines:
        key = (str(line.chart), str(line.metric))
        samples += [
            (n.VALUE, key, float(line.value)),
            (n.WINDOW_MIN, key, float(line.window_min)),
            (n.WINDOW_MAX, key, float(line.window_max)),
            (n.NONFINITE, key, float(line.nonfinite_total)),
            (n.POINTS, key, float(line.points_total)),
        ]
        if line.first_nonfinite_step is not None:
            samples.append((n.FIRST_NONFINITE_STEP, key, float(line.first_nonfinite_step)))
    for best in view.best:
        if best.step is None or math.isnan(best.value):
            continue  # nothing tracked yet
        key = (str(best.metric), str(best.mode))
        samples += [(n.BEST_VALUE, key, float(best.value)), (n.BEST_STEP, key, float(best.step))]
        if best.steps_since is not None:
            samples.append((n.STEPS_SINCE_BEST, key, float(best.steps_since)))
    return samples


def _empty_families() -> dict[str, Metric]:
    return {name: cls(name, doc, labels=n.RUN_LABELS + extra) for name, (cls, doc, extra) in _FAMILIES.items()}


@dataclass
class _Run:
    source: _LiveSource
    info: RunInfo
    state: str
    start_time: float
    last_error_log: float = -math.inf

    def labels(self) -> tuple[str, str]:
        return (self.info.run_id, str(self.info.rank))


def check_state(state: str) -> str:
    if state not in n.RUN_STATES:
        raise ValueError(f"`state` can be {', '.join(n.RUN_STATES)}, got {state!r}.")
    return state


class CurveCollector(Collector):
    """Exposes one or more recorders (anything with ``live()``) under the ``curvewatch_`` metric names."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, int], _Run] = {}
        if registry is not None:
            registry.register(self)

    def add(
        self, recorder: _LiveSource, run: RunInfo, *, start_time: float | None = None, state: str = n.RUNNING
    ) -> None:
        """Expose ``recorder`` as ``run``; ``start_time`` (unix seconds) defaults to now."""
        if not isinstance(run, RunInfo):
            raise TypeError(f"`run` must be a RunInfo, got {type(run).__name__}.")
        if not callable(getattr(recorder, "live", None)):
            raise TypeError(f"`recorder` must have a live() method (a CurveRecorder), got {type(recorder).__name__}.")
        key = (run.run_id, run.rank)
        with self._lock:
            if key in self._runs:
                raise ValueError(
                    f"Run {run.run_id!r} (rank {run.rank}) is already exposed; give each run its own run_id."
                )
            self._runs[key] = _Run(
                recorder, run, check_state(state), time.time() if start_time is None else float(start_time)
            )

    def remove(self, run_id: str) -> None:
        """Stop exposing every rank of ``run_id``."""
        with self._lock:
            for key in [key for key in self._runs if key[0] == run_id]:
                del self._runs[key]

    def runs(self) -> tuple[RunInfo, ...]:
        """The runs exposed, in the order they were added."""
        with self._lock:
            return tuple(run.info for run in self._runs.values())

    def set_state(self, state: str, run_id: str | None = None) -> None:
        """Set ``running``, ``finished`` or ``failed`` for ``run_id`` (default: every run)."""
        check_state(state)
        with self._lock:
            matched = [run for run in self._runs.values() if run_id is None or run.info.run_id == run_id]
            if run_id is not None and not matched:
                raise KeyError(f"No run {run_id!r} is exposed; known runs: {sorted({k[0] for k in self._runs})}.")
            for run in matched:
                run.state = state

    def state(self, run_id: str | None = None) -> str:
        """The state set for ``run_id`` (default: the first run)."""
        with self._lock:
            for run in self._runs.values():
                if run_id is None or run.info.run_id == run_id:
                    return run.state
        raise KeyError(f"No run {run_id!r} is exposed.")

    def only(self, run_id: str) -> CurveCollector:
        """A new collector exposing just ``run_id`` (same recorder, state and start time), e.g. to push it."""
        single = CurveCollector()
        with self._lock:
            single._runs = {key: run for key, run in self._runs.items() if key[0] == run_id}
        return single

    def _read(self, run: _Run) -> Any | None:
        try:
            return run.source.live()
        except Exception:  # never let a recorder's failure break the scrape or reach the training loop
            self._log_failure(run, "reading the live view")
            return None

    def _log_failure(self, run: _Run, what: str) -> None:
        now = time.monotonic()
        if now - run.last_error_log >= n.ERROR_LOG_INTERVAL_S:
            run.last_error_log = now
            log.exception(
                "curvewatch: %s of run %r failed during a scrape; its curve metrics are left out "
                "of this scrape (training goes on).",
                what,
                run.info.run_id,
            )

    def describe(self) -> Iterator[Metric]:
        """Every family, without samples: lets a registry refuse a second curvewatch collector."""
        yield from _empty_families().values()

    def collect(self) -> Iterator[Metric]:
        families = _empty_families()
        with self._lock:
            runs = [(run, run.state) for run in self._runs.values()]
        for run, state in runs:
            base = run.labels()
            families[n.RUN_INFO].add_metric(base, run.info.info_labels())
            view = self._read(run)
            current = effective_state(state, view)
            for name in n.RUN_STATES:
                families[n.RUN_STATE].add_metric(base + (name,), 1.0 if name == current else 0.0)
            families[n.RUN_START_TIME].add_metric(base, run.start_time)
            if view is None:
                continue
            try:
                samples = view_samples(view)
            except Exception:
                self._log_failure(run, "turning the live view into samples")
                continue
            for family, extra, value in samples:
                families[family].add_metric(base + extra, value)
        for family in families.values():
            if family.samples:
                yield family
