"""The log buffer: what ``CurveRecorder.log()`` does per call, and nothing else.

``log(step, **metrics)`` (or ``log(step, {name: value, ...})``) appends each value to its metric's
buffer (an int64 step array and a float64 value array) and leaves every decision to five callbacks of the recorder:

- ``on_step(step) -> int``: a step that is not an exact ``int``, is below ``floor`` (the recorder
  sets it to arm a resume; ``log()`` never moves it), or any step once ``closed`` (finalized). It
  returns the checked step or raises.
- ``on_value(name, value, step)``: a value that is not an exact ``float``. It returns a float, or
  an object (a device tensor's staged copy: stored as NaN plus ``(index, object)``, converted in
  batches at the fold), or raises.
- ``on_new(name) -> int``: a metric the buffer holds no series for (its first call, or the first
  after ``clear()``). It checks the name and returns the metric's floor: its last recorded step.
- ``on_back(name, step)``: a metric logged at a step below its own floor (its last step); the
  recorder purges that metric's stale tail. The metric's floor is then ``step``.
- ``on_full()``: after a call that filled some metric's buffer to ``capacity`` values (fold now).

Every value and name of a call is checked (on_value, on_new) before on_back runs and before any
value is stored, so a call that raises stores nothing.

``line(name)`` gives ``f(step, value)``, the same as ``log(step, {name: value})``: the compiled
buffer appends an exact float at an exact int step straight to the metric's series there (no
keyword names to match), and takes the general path for anything else.

Readers: ``sizes()`` (buffered values per metric), ``read(name, start, stop)`` (a copy, for the
live view of a scrape thread), ``take()`` (everything, emptied: the fold), ``clear()``.

Two implementations keep this contract: :class:`PyLogBuffer` below and the compiled
``_clogbuf.LogBuffer`` (``_clogbuf.c``, built by ``pip install``; ~4x cheaper per scalar: no
kwargs dict, no Python bytecode per value, no list-to-array conversion at the fold).
:func:`new_log_buffer` takes the compiled one when it is importable and ``CURVEWATCH_PURE_PYTHON``
is not set; tests run both and compare them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PyLogBuffer", "compiled", "new_log_buffer"]

_MAX_STEP = 2**63 - 1  # steps are stored as int64; on_step refuses larger ones
MAX_CAPACITY = 2**40  # values of one metric (as in _clogbuf.c)
Chunk = tuple[bytes, bytes, list[tuple[int, Any]]]  # steps (int64), values (float64), (index, object)

try:
    from ._clogbuf import LogBuffer as _CLogBuffer
except ImportError:  # built without a C compiler (pip install skips the optional extension)
    _CLogBuffer = None


class PyLogBuffer:
    """The pure-Python log buffer (the reference for the compiled one).

    Each metric's points go to one flat list ``[step, value, step, value, ...]`` (list appends are
    the cheapest thing Python does per value; arrays are built at ``read``); objects are stored as
    NaN there and as ``(index, object)`` in ``_objects``. A metric's floor is the step of its last
    buffered point, or (buffer empty) the one kept in ``_floors``; ``_top`` is the largest floor,
    so a call at a step >= ``_top`` sends no metric back.
    """

    def __init__(self, capacity: int, on_step: Callable[[Any], int], on_value: Callable[[str, Any, int], Any],
                 on_new: Callable[[str], int], on_back: Callable[[str, int], None],
                 on_full: Callable[[], None]) -> None:
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity must be between 1 and {MAX_CAPACITY}.")
        self.capacity = capacity
        self.floor = 0
        self.closed = False
        self._series: dict[str, list[Any]] = {}
        self._objects: dict[str, list[tuple[int, Any]]] = {}
        self._floors: dict[str, int] = {}
        self._top = -1
        self._full_len = 2 * capacity
        self._on_step, self._on_value, self._on_full = on_step, on_value, on_full
        self._on_new, self._on_back = on_new, on_back

    def log(self, step: Any, mapping: dict[str, Any] | None = None, /, **metrics: Any) -> None:
        """Buffer one value per metric at ``step`` (metrics as keywords, or one dict ``mapping``)."""
        if mapping is not None:
            if type(mapping) is not dict or metrics:
                raise TypeError("log() takes the step and the metrics as keywords, or the step and one dict as "
                                "its two positional arguments: log(step, loss=0.5) or log(step, {'loss': 0.5}).")
            metrics = mapping
        if type(step) is not int or step < self.floor or step > _MAX_STEP or self.closed:
            step = self._on_step(step)
        series = self._series
        if step < self._top:
            self._log_slow(step, metrics)
            return
        for name, value in metrics.items():  # all checked before any is stored (a scrape may read meanwhile)
            if type(value) is not float or name not in series:
                self._log_slow(step, metrics)
                return
        full = False
        for name, value in metrics.items():
            buf = series[name]
            buf.append(step)
            buf.append(value)
            if len(buf) >= self._full_len:
                full = True
        self._top = step
        if full:
            self._on_full()

    def line(self, name: str) -> Callable[[Any, Any], None]:
        """``f(step, value)``: the same as ``log(step, {name: value})``."""
        log = self.log

        def line(step: Any, value: Any, /) -> None:
            log(step, {name: value})
        return line

    def _log_slow(self, step: int, metrics: dict[str, Any]) -> None:
        """A call with a value that is not a float, a new metric or a metric going back."""
        on_value = self._on_value
        checked = {n: v if type(v) is float else on_value(n, v, step) for n, v in metrics.items()}
        floors = {n: self._on_new(n) for n in checked if n not in self._series}
        for name in checked:
            floor = floors[name] if name in floors else self._floor(name)
            if step < floor:
                self._on_back(name, step)
        full = False
        for name, value in checked.items():
            buf = self._series.setdefault(name, [])
            if not isinstance(value, float):
                self._objects.setdefault(name, []).append((len(buf) // 2, value))
                value = math.nan
            buf.append(step)
            buf.append(value)
            full = full or len(buf) >= self._full_len
        self._top = max(self._top, step, *floors.values())
        if full:
            self._on_full()

    def _floor(self, name: str) -> int:
        buf = self._series[name]
        return buf[-2] if buf else self._floors[name]

    def sizes(self) -> dict[str, int]:
        series = list(self._series.items())  # one step: the training thread may add a metric meanwhile
        return {name: len(buf) // 2 for name, buf in series if len(buf) >= 2}

    def read(self, name: str, start: int, stop: int) -> Chunk:
        buf = self._series[name]
        stop = max(0, min(stop, len(buf) // 2))  # the training thread may be between its two appends
        start = max(0, min(start, stop))
        objects = [(i - start, o) for i, o in self._objects.get(name, ()) if start <= i < stop]
        steps = np.asarray(buf[2 * start:2 * stop:2], dtype=np.int64)
        values = np.asarray(buf[2 * start + 1:2 * stop:2], dtype=np.float64)
        return steps.tobytes(), values.tobytes(), objects

    def take(self) -> dict[str, Chunk]:
        out = {name: self.read(name, 0, len(buf) // 2) for name, buf in self._series.items() if buf}
        for name in out:
            self._floors[name] = self._series[name][-2]
            self._series[name] = []
        self._objects.clear()
        return out

    def clear(self) -> None:
        self._series.clear()
        self._objects.clear()
        self._floors.clear()
        self._top = -1


def compiled() -> bool:
    """Whether log() runs the compiled buffer (False: not built, or CURVEWATCH_PURE_PYTHON is set)."""
    return _CLogBuffer is not None and not os.environ.get("CURVEWATCH_PURE_PYTHON")


def new_log_buffer(capacity: int, on_step: Callable[[Any], int], on_value: Callable[[str, Any, int], Any],
                   on_new: Callable[[str], int], on_back: Callable[[str, int], None],
                   on_full: Callable[[], None]) -> Any:
    """The compiled log buffer when :func:`compiled`, else :class:`PyLogBuffer`."""
    cls = _CLogBuffer if compiled() else PyLogBuffer
    return cls(capacity, on_step, on_value, on_new, on_back, on_full)
