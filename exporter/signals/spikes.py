"""Live spike events per line: a streaming, robust detector fed by the training loop's own ``log()`` dicts.

    detector = SpikeDetector(recover_steps=200)
    detector.log(step, {"train_loss": loss, "lr": lr})   # what RunTracker.log does for you
    detector.lines()       # [SpikeLine(metric="train_loss", events=1, last_step=5120, last_size=8.3, ...)]

Guarantees (each has a test named after it in tests/test_signals_spikes.py):

- relative_to_the_local_level: a value is a spike when it is farther from the median of the ``window``
  finite values before its block (of ``block`` values) than ``factor`` times their spread
  (``MAD_SCALE`` x MAD, at least ``min_relative`` x |median|); a trend, a noisy plateau and a slow
  level change are not spikes, a 5x jump is, whatever the line's scale.
- one_event_per_excursion: consecutive spikes on one side are one event; ``events`` counts events,
  ``last_step`` is the first step of the last one, ``last_size`` its largest |value| / |level|.
- unrecovered_until_back_at_the_pre_spike_level: a spike away from better (up for a loss; down for a
  metric whose mode is ``max``) opens a watch; the line is unrecovered once ``recover_steps`` steps
  passed without a value back within the detection band of the pre-spike level, and recovered (0) at
  that value. A later spike while one is watched counts but does not reset the watch.
- nonfinite_values_are_skipped: NaN and inf are neither spikes nor part of the level (the recorder and
  ``curvewatch_nonfinite_total`` count them); a line that goes NaN keeps its last events.
- bounded_state: per line at most ``window + block`` values and a handful of numbers, whatever the run's
  length; the log buffer holds at most ``drain_every`` values per metric.
- independent_of_when_it_runs: the result depends on the values only, not on how they were cut into
  drains (a scrape may drain at any time).
- cheap: the detector runs with NumPy over many values at a time. ``RunTracker`` has it read the
  recorder's own log buffer (``follow``: ``SpikeWatchedRecorder`` in ``recorded.py``), so nothing is added
  to ``log()``; standalone, ``log`` is a log buffer of its own (the recorder's compiled one: the same call
  forms, checks and tensor handling: a CPU tensor is read at the call, a device tensor staged without a
  sync), run over every ``drain_every`` values (see bench/bench_signals.py).

Threads: ``log`` and ``drain`` from the training thread; ``lines()`` from any thread (a scrape), which
runs the detector over the values logged since, without emptying the buffer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from curvewatch.recorder._logbuf import new_log_buffer
from curvewatch.recorder._values import check_step, chunk_arrays, coerce_value

from . import _names as n
from ._spike_line import LineSpikes, SpikeSettings

__all__ = ["SpikeDetector", "SpikeLine"]

STATE_VERSION = 1


class SpikeLine(NamedTuple):
    """What the detector says about one line."""

    metric: str
    events: int
    last_step: int | None
    last_size: float
    unrecovered: bool


class SpikeDetector:
    """Counts spike events per metric and watches whether each line recovers (see the module docstring)."""

    def __init__(self, *, window: int = n.SPIKE_WINDOW, block: int = n.SPIKE_BLOCK, factor: float = n.SPIKE_FACTOR,
                 min_relative: float = n.SPIKE_MIN_RELATIVE, recover_steps: int = n.RECOVER_STEPS,
                 drain_every: int = n.DRAIN_EVERY, metrics: Iterable[str] | None = None,
                 mode_of: Callable[[str], str] | None = None) -> None:
        for name, value, low in (("window", window, 8), ("block", block, 1), ("recover_steps", recover_steps, 1),
                                 ("drain_every", drain_every, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        if not factor > 0 or not min_relative >= 0:
            raise ValueError(f"factor must be above 0 and min_relative at least 0, got {factor!r} and "
                             f"{min_relative!r}.")
        self.settings = SpikeSettings(window, block, float(factor), float(min_relative), recover_steps)
        self.drain_every = drain_every
        self.metrics = None if metrics is None else frozenset(metrics)
        self._mode_of = mode_of or (lambda metric: "min")
        self._lines: dict[str, LineSpikes] = {}
        self._seen: dict[str, int] = {}  # buffered values already run (by a scrape), per metric
        self._lock = threading.RLock()
        self._following = False  # reading a recorder's buffer (follow) instead of this detector's own
        # the recorder's own log buffer (compiled when built): the same call forms, checks and tensor handling
        self._buf = new_log_buffer(drain_every, check_step, coerce_value, lambda name: -1,
                                   lambda name, step: None, self.drain)
        self.log = self._buf.log

    def log(self, step: int, mapping: Mapping[str, Any] | None = None, /, **metrics: Any) -> None:
        """Take one ``log()`` call's values, as ``CurveRecorder.log`` does (replaced by the buffer's own)."""
        if mapping is None:
            self._buf.log(step, **metrics)
        else:
            self._buf.log(step, mapping, **metrics)

    def drain(self) -> None:
        """Run the detector over every buffered value and empty the buffer (the training thread)."""
        if self._following:
            with self._lock:
                self._read_new()  # the recorder empties its buffer when it folds (see folding())
            return
        with self.folding():
            self._buf.take()

    @contextmanager
    def folding(self) -> Iterator[None]:
        """Around whatever empties the buffer: run over the values not seen yet first, start afresh after."""
        with self._lock:
            self._read_new()
            yield
            self._seen = {}

    def follow(self, buffer: Any) -> None:
        """Read another log buffer (a recorder's, see ``recorded.py``) instead of this detector's own."""
        with self._lock:
            self._buf, self._seen, self._following = buffer, {}, True
            self.log = _refuse_log

    def lines(self) -> list[SpikeLine]:
        """Every line's events and recovery, after running over what was logged (any thread: a scrape)."""
        with self._lock:
            self._read_new()
            return [SpikeLine(metric, line.events, line.last_step, line.last_size, line.unrecovered())
                    for metric, line in self._lines.items()]

    def _read_new(self) -> None:
        """Run over the buffered values not seen yet (under the lock; reading never changes the buffer)."""
        for name, size in self._buf.sizes().items():
            seen = self._seen.get(name, 0)
            if size < seen:
                seen = 0  # emptied without a fold (a recorder restored from a state dict)
            if size > seen:
                self._add(name, *chunk_arrays(self._buf.read(name, seen, size)))
            self._seen[name] = size

    def events(self) -> dict[str, list[tuple[int, float]]]:
        """The last ``SPIKES_KEPT`` events of each line that had any: ``(first step, size)`` (any thread)."""
        self.lines()
        with self._lock:
            return {metric: list(line.recent) for metric, line in self._lines.items() if line.recent}

    def _add(self, name: str, steps: np.ndarray, values: np.ndarray) -> None:
        if self.metrics is not None and name not in self.metrics:
            return
        line = self._lines.get(name)
        if line is None:
            line = self._lines[name] = LineSpikes(self.settings, -1 if self._mode_of(name) == "max" else 1)
        line.add(steps, values)

    def state_dict(self) -> dict[str, Any]:
        """Every line's state, as plain types (a resumed run continues its events and watches)."""
        self.drain()
        with self._lock:
            return {"state_version": STATE_VERSION, "settings": list(self.settings),
                    "lines": {metric: line.state_dict() for metric, line in self._lines.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("state_version") != STATE_VERSION:
            raise ValueError(f"Cannot load spike detector state version {state.get('state_version')!r}; this "
                             f"curvewatch writes version {STATE_VERSION}.")
        with self._lock:
            if not self._following:
                self._buf.clear()
            self._lines, self._seen = {}, {}
            for metric, saved in state["lines"].items():
                line = self._lines[metric] = LineSpikes(self.settings, -1 if self._mode_of(metric) == "max" else 1)
                line.load_state_dict(saved)


def _refuse_log(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("This SpikeDetector follows a recorder (it reads what the recorder logs); log to the "
                       "recorder, or use a SpikeDetector of its own for values the recorder does not get.")
