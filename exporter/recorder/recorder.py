"""CurveRecorder: bounded, faithful training curves with one final best point."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import document as _doc
from ._charts import Charts
from ._line import Line
from ._live_scan import PendingLive, build_live_view
from ._logbuf import new_log_buffer
from ._purge import purge
from ._raster import WIDTH
from ._values import check_metric_name, check_step, chunk_arrays, coerce_value, count_steps
from .best import BestPoint, BestTracker
from .errors import RecorderError
from .live import LiveView

__all__ = ["CurveRecorder"]

log = logging.getLogger("curvewatch.recorder")

MIN_BUDGET = 8
OVERSAMPLE = 4  # M4 buckets per budget point: 4x-8x the budget in candidates (see _select) ...
MIN_BUCKETS = 2 * WIDTH  # ... and at least two per pixel column of the chart a pick is judged at
FLUSH_EVERY = 16384  # values of one metric buffered before NumPy folds them (256 KiB; ~4 ns per value to fold)
STATE_VERSION = 1


class CurveRecorder:
    """Records training curves in bounded memory and keeps what a person needs to see.

        rec = CurveRecorder(budget=1000)
        rec.chart("loss", ["train_loss", "val_loss"], title="Loss", yscale="log")
        rec.track_best("val_loss", mode="min")
        rec.log(step, train_loss=loss, lr=lr)     # floats, ints, numpy scalars, 1-element tensors
        rec.log(step, {"train_loss": loss})       # a dict (cheaper than log(step, **d))
        loss_line = rec.line("train_loss")        # one metric, cheapest: loss_line(step, loss)
        doc = rec.finalize()                      # the curves document with the best point
        rec.save_json("curves.json"); rec.save_png("loss_curve.png")

    Guarantees (each has a test named after it in tests/test_recorder_*.py):

    1. Bounded: at most ``budget`` points per line (+ the best point) whatever the run length,
       without being told the length; memory per line is fixed: ``max(OVERSAMPLE * budget,
       MIN_BUCKETS)`` M4 buckets (or, while it holds fewer than ``max(budget + 1, RAW_LIMIT)``
       points, 2^15, those points) and a log buffer of ``FLUSH_EVERY`` values.
    2. Exact when small: a line with at most ``budget`` points keeps every point.
    3. Faithful: streaming M4 (first, last, min, max per step bucket; buckets double and merge
       exactly) keeps 4-8x ``budget`` candidates (at least two buckets per pixel column of a
       1000 px chart); at the end a MinMaxLTTB pick of them, flat stretches costing two points
       (the budget goes where the curve moves), is judged (``_judge.py``) by how it draws at
       1000x400, 1920x1080 and 3840x1000 px and by its interpolation deviation, and a local search
       moves its free points where it draws closer still, at the PNG's size and at the size it
       draws farthest at, kept only when no one of those measures passes the MinMaxLTTB pick's
       (see ``_select.py``, ``_refine.py``). A line of fewer than ``JUDGED_FROM`` (10^4) logged points
       holds the points themselves and takes the MinMaxLTTB pick of all of them, unjudged: the
       offline pick, for a cheap ``finalize()`` of short lines; one of fewer than ``RAW_LIMIT``
       points is judged against its own points (the drawing of the full line). The first point, the global min and
       max, the first non-finite value (NaN, +inf, -inf, with its step) and the true last point
       (the last value logged, NaN/inf included, with its step) of every line are always kept.
    4. Spikes kept: a spike is a candidate whose distance from the median of its neighbouring
       candidates exceeds ``SPIKE_FACTOR`` times their spread (see ``_spikes.py``), in a run of
       at most ``SPIKE_RUN`` such candidates on the same side (a short excursion, not a level
       change). Every spike is kept while there are at most ``budget // 2``; beyond that the
       ``budget - spikes`` largest, never fewer than the ``budget // 4`` largest, so that a line
       that is mostly spikes keeps room for its shape (``_select.spike_room``; never more than
       the places the required points of guarantee 3 leave: those come first, so ``budget=8``
       with several spikes still keeps them). A logged
       spike is a candidate when it is one of the two largest excursions of its M4 bucket on its
       side: each bucket also keeps its second-largest and second-smallest point, offered as
       spikes only, so a spike sharing a bucket with a larger one is kept (of three, the two
       largest).
    5. Final best point only: decided once at ``finalize()``, min or max of the tracked metric;
       NaN/inf are never best; ties keep the earliest step; it holds every metric's value at
       that step (or its most recent earlier value and step) and is inserted, in step order,
       exactly once into every line it belongs to, marked by ``best_index``.
    6. Deterministic: the same input gives byte-identical JSON (in any process).
    7. Purges only the metric that went back: metrics may be logged at their own cadence and in
       their own step order (validation at an older step than training); a metric logged at a
       step below its own last step drops its own points at that step and later (a restarted
       loop re-logs them), and no other metric's. Only a resume purges every metric:
       ``rec.resume(step)`` drops every line's points at ``step`` and later, and the first
       ``log()`` after ``load_state_dict()`` at a step at or below the saved last step does the
       same at that step. Each line's ``purged_points`` (and the document's total) counts them.
    8. Resumable: ``state_dict()`` / ``load_state_dict()`` continue a run exactly.
    9. Values as logged: a tensor is recorded with the value it had at its ``log()`` call (a CPU
       tensor is read then; a device tensor is copied, asynchronously, into a per-device staging
       buffer read once per fold: no per-step sync). A value that cannot be recorded (not a
       number, several elements, complex, bool, meta; on a device: sparse, quantized, a copy
       that fails) and a metric name that is empty or not printable are refused at the
       ``log()`` call that got them, which then records nothing; everything logged before is
       kept.
    10. Cheap: ``log()`` appends to a buffer folded with NumPy every ``FLUSH_EVERY`` values of a
        metric (compiled when a C compiler was there at install: see ``_logbuf.py``).
    11. Every call form records the same: ``log(step, d)`` records what ``log(step, **d)`` does,
        and ``rec.line(name)(step, x)`` what ``log(step, name=x)`` does (refusals included); the
        line is the cheapest form (no keyword names to match), ``log(step, d)`` the cheapest for a
        dict (CPython copies and unpacks ``**d`` before any callee runs).

    Threads: call everything from the training thread, except ``live()``, which any thread (a
    Prometheus scrape) may call at any time.
    """

    def __init__(self, budget: int = 1000, *, live_window: float = 60.0) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_BUDGET:
            raise RecorderError(f"budget must be an int >= {MIN_BUDGET}, got {budget!r}.")
        if not live_window > 0:
            raise RecorderError(f"live_window must be > 0 seconds, got {live_window!r}.")
        self.budget = budget
        self._n_buckets = max(OVERSAMPLE * budget, MIN_BUCKETS)
        self.live_window = float(live_window)
        self.charts = Charts()
        self.epoch: int | None = None
        self.purged_points = 0
        self._lines: dict[str, Line] = {}
        self._best: BestTracker | None = None
        # the hot path: log() is the buffer's own (compiled) method; it calls back only for an
        # unusual step (_unusual_step), a value that is not a float (coerce_value), a metric it has
        # no series for (_new_metric), a metric going back (_metric_went_back), a full buffer (_flush)
        self._buf = new_log_buffer(FLUSH_EVERY, self._unusual_step, coerce_value, self._new_metric,
                                   self._metric_went_back, self._flush)
        self.log = self._buf.log
        self._pending_live: dict[str, PendingLive] = {}  # what scrapes learnt of the buffers
        self._last_step = -1
        self._steps_total = 0
        self._live_steps = (0, -1)  # (steps_total, last_step) including the buffered values
        self._last_log_unixtime: float | None = None
        self._resuming = False  # load_state_dict() ran: the next log() decides whether to purge
        self._document: dict[str, Any] | None = None
        self._lock = threading.Lock()

    # -- declaring -----------------------------------------------------------------------
    def chart(self, name: str, metrics: list[str] | tuple[str, ...] | None = None, *, title: str | None = None,
              xlabel: str = "step", ylabel: str | None = None, yscale: str = "linear",
              labels: dict[str, str] | None = None) -> None:
        """Declare a chart holding ``metrics`` (default: the metric called ``name``)."""
        with self._lock:  # a scrape thread may be placing a new metric in a chart of its own
            self.charts.declare(name, list(metrics) if metrics is not None else [name], title=title,
                                xlabel=xlabel, ylabel=ylabel, yscale=yscale, labels=labels or {})

    def add_to_chart(self, name: str, metric: str, label: str | None = None) -> None:
        """Add ``metric`` to the chart ``name`` declared before (charts that grow as metrics appear)."""
        with self._lock:
            self.charts.add(name, metric, label)

    def track_best(self, metric: str, mode: str = "min") -> None:
        """Choose the metric whose best value (``min`` or ``max``) decides the best point."""
        if self._best is not None and self._best.metric != metric and self._lines:
            raise RecorderError("track_best() was already called; call it once, before logging.")
        self._best = BestTracker(metric, mode)

    # -- the hot path --------------------------------------------------------------------
    def log(self, step: int, mapping: dict[str, Any] | None = None, /, **metrics: Any) -> None:
        """Record ``metrics`` at ``step`` (keywords, or one dict: ``log(step, {"loss": x})``, the
        cheaper way to pass a dict than ``log(step, **d)``); cheap enough for every training step.

        Values: float, int, numpy scalar, one-element torch tensor (CPU or CUDA, converted in
        batches). A call that raises records none of its values. (Each recorder replaces this
        method by its log buffer's own ``log``, which does the same without this extra call.)
        """
        if mapping is None:
            self._buf.log(step, **metrics)
        else:
            self._buf.log(step, mapping, **metrics)

    def line(self, metric: str) -> Callable[[int, Any], None]:
        """``f(step, value)``: log one metric, the cheapest way (the same as ``log(step, {metric: value})``).

            loss = rec.line("loss")
            for step, x in ...: loss(step, x)
        """
        return self._buf.line(metric)

    def _unusual_step(self, step: Any) -> int:
        """The log buffer's slow path for a step: finalized, not an int, or the first after a resume."""
        if self._document is not None:
            raise RecorderError("This recorder is finalized; create a new CurveRecorder for a new run.")
        step = check_step(step)
        if self._resuming:
            self._resuming, self._buf.floor = False, 0
            if step <= self._last_step:
                self.resume(step)
        return step

    def _new_metric(self, name: str) -> int:
        """The log buffer's check of a metric it has no series for: its name, and its last step."""
        check_metric_name(name)
        line = self._lines.get(name)
        return line.last[0] if line is not None and line.last is not None else -1

    def _metric_went_back(self, name: str, step: int) -> None:
        """``name`` was logged below its own last step: drop its own points at ``step`` and later."""
        self._flush()
        with self._lock:
            dropped = purge(self, step, [name])
        log.warning("Metric %r went back to step %d: purged %d of its stale points at steps >= %d "
                    "(a restarted loop re-logs them; other metrics keep theirs).", name, step, dropped, step)

    def resume(self, step: int) -> int:
        """Resume at ``step``: drop every line's points at ``step`` and later; return how many went.

        Call it where a resumed run restarts its loop (``load_state_dict()`` does it by itself at
        the first ``log()`` when that step is at or below the saved last step)."""
        step = check_step(step)
        if self._document is not None:
            raise RecorderError("This recorder is finalized; create a new CurveRecorder for a new run.")
        self._flush()
        with self._lock:
            dropped = purge(self, step, list(self._lines))
            self._buf.clear()  # each metric's floor comes back from its line (_new_metric)
            self._resuming, self._buf.floor = False, 0
        log.warning("Resumed at step %d: purged %d stale points at steps >= %d.", step, dropped, step)
        return dropped

    def set_epoch(self, epoch: int) -> None:
        """Record the current epoch (shown live)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise RecorderError(f"An epoch must be an int >= 0, got {type(epoch).__name__} {epoch!r}.")
        self.epoch = epoch

    # -- folding -------------------------------------------------------------------------
    def _flush(self) -> None:
        with self._lock:
            taken = self._buf.take()
            pending_live, self._pending_live = self._pending_live, {}
            if not taken:
                return
            now, unixtime = time.monotonic(), time.time()
            before: dict[str, Any] = {}
            chunks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for metric, chunk in taken.items():
                line = self._line(metric)
                s, v = chunk_arrays(chunk)
                before[metric] = line.last
                chunks[metric] = (s, v)
                seen = pending_live[metric].seen if metric in pending_live else 0
                line.extend(s, v, now, fresh=s.size - seen)
            self._steps_total, self._last_step = count_steps(
                [s for s, _ in chunks.values()], self._steps_total, self._last_step)
            self._live_steps = (self._steps_total, self._last_step)
            self._last_log_unixtime = unixtime
            self._update_best(chunks, before)

    def _line(self, metric: str) -> Line:
        line = self._lines.get(metric)
        if line is None:
            line = self._lines[metric] = Line(metric, self.budget, self._n_buckets, self.live_window)
            self.charts.place(metric)
        return line

    def _update_best(self, chunks: dict[str, tuple[np.ndarray, np.ndarray]], before: dict[str, Any]) -> None:
        best = self._best
        if best is None:
            return
        changed = best.metric in chunks and best.consider(*chunks[best.metric])
        if changed:
            for metric, line in self._lines.items():
                if metric not in chunks and line.last is not None:
                    best.values[metric] = line.last
        for metric, (s, v) in chunks.items():
            best.note(metric, s, v, before[metric])

    # -- reading -------------------------------------------------------------------------
    def live(self) -> LiveView:
        """The live view (thread-safe; folds nothing, so it costs the training loop nothing)."""
        with self._lock:
            return build_live_view(self)

    def snapshot(self) -> dict[str, Any]:
        """The current curves as a document (``final: false``, no best point)."""
        if self._document is not None:
            return self._document
        self._flush()
        with self._lock:
            return _doc.build(self._lines, self.charts, self._run_fields(), best=None, final=False)

    def finalize(self) -> dict[str, Any]:
        """Decide the best point, insert it, and return the final document (idempotent)."""
        if self._document is None:
            self._flush()
            best = self._final_best()
            with self._lock:
                self._document = _doc.build(self._lines, self.charts, self._run_fields(), best=best, final=True)
                self._buf.closed = True
        return self._document

    def _run_fields(self) -> dict[str, Any]:
        return {"budget": self.budget, "steps_total": self._steps_total, "epoch": self.epoch,
                "purged_points": self.purged_points}

    def _final_best(self) -> BestPoint | None:
        if self._best is None:
            return None
        if self._best.metric not in self._lines:
            raise RecorderError(
                f"track_best({self._best.metric!r}) names a metric that was never logged; logged metrics "
                f"are: {', '.join(sorted(self._lines)) or 'none'}. Log it or track another metric."
            )
        return self._best.result()

    @property
    def document(self) -> dict[str, Any] | None:
        """The final document once :meth:`finalize` ran, else None."""
        return self._document

    def save_json(self, path: str | Path) -> Path:
        """Write the final document (finalizing if needed) as strict, canonical JSON."""
        return _doc.write_text_atomic(Path(path), _doc.encode_document(self.finalize()))

    def save_png(self, path: str | Path) -> Path:
        """Draw every chart (best point marked) into a PNG."""
        from .plot import save_png

        return save_png(self.finalize(), path)

    # -- resume --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as plain Python types (safe for torch.load(weights_only=True))."""
        self._flush()
        with self._lock:
            return {
                "state_version": STATE_VERSION,
                "budget": self.budget,
                "live_window": self.live_window,
                "charts": self.charts.state_dict(),
                "lines": [line.state_dict() for line in self._lines.values()],
                "best": None if self._best is None else self._best.state_dict(),
                "last_step": self._last_step,
                "steps_total": self._steps_total,
                "epoch": self.epoch,
                "purged_points": self.purged_points,
            }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a recorder saved by :meth:`state_dict`; the first log at or below the saved last
        step resumes there (:meth:`resume`)."""
        if state.get("state_version") != STATE_VERSION:
            raise RecorderError(f"Cannot load recorder state version {state.get('state_version')!r}; "
                                f"this curvewatch writes version {STATE_VERSION}.")
        if state["budget"] != self.budget:
            raise RecorderError(f"The saved recorder used budget={state['budget']}; create the recorder "
                                f"with that budget to resume it.")
        with self._lock:
            self.charts.load_state_dict(state["charts"])
            self._lines = {}
            for ls in state["lines"]:
                line = Line(ls["metric"], self.budget, self._n_buckets, self.live_window)
                line.load_state_dict(ls)
                self._lines[line.metric] = line
            self._best = None if state["best"] is None else BestTracker.from_state_dict(state["best"])
            self._last_step = int(state["last_step"])
            self._steps_total = int(state["steps_total"])
            self.epoch = state["epoch"]
            self.purged_points = int(state["purged_points"])
            self._buf.clear()
            self._buf.closed = False
            self._pending_live, self._document = {}, None
            self._live_steps = (self._steps_total, self._last_step)
            self._resuming, self._buf.floor = True, 2**63  # the next log() goes to _unusual_step
