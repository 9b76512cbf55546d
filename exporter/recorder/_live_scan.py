"""Building a LiveView from folded lines plus the records still in the log buffer.

Runs in the scrape thread under the recorder's lock. It reads the buffer without changing it
(the training thread only appends to it), so the training loop never waits on a scrape except
during its own fold. Points seen here for the first time enter the live window now.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ._values import to_float_array
from .live import BestLive, LineLive, LiveView

if TYPE_CHECKING:
    from .recorder import CurveRecorder

__all__ = ["build_live_view"]


def build_live_view(rec: CurveRecorder) -> LiveView:
    from .recorder import count_steps

    now = time.monotonic()
    columns: dict[str, tuple[list[int], list[Any], int]] = {}
    for name, buf in list(rec._buffers.items()):
        n = len(buf) // 2 * 2  # the training thread may be between its two appends
        if n:
            seen = rec._observed.get(name, 0)
            columns[name] = (buf[0:n:2], buf[1:n:2], seen // 2)
            if n > seen:
                rec._observed[name] = n
                rec._last_log_unixtime = time.time()
    best = rec._best
    best_value = best.value if best is not None else math.nan
    best_step = best.step if best is not None else None
    lines = []
    for metric in list(rec._lines) + [m for m in columns if m not in rec._lines]:
        line = rec._line(metric)
        step, value = line.last if line.last is not None else (None, math.nan)
        nonfinite, first_nf, count = line.nonfinite_count, line.first_nonfinite, line.count
        if metric in columns:
            steps, raw, observed = columns[metric]
            values = to_float_array(raw, rec._has_tensors)
            if len(steps) > observed:
                line.window.add(now, values[observed:])
            step, value = steps[-1], float(values[-1])
            bad = np.flatnonzero(~np.isfinite(values))
            nonfinite += bad.size
            if first_nf is None and bad.size:
                first_nf = (steps[bad[0]], float(values[bad[0]]))
            count += len(steps)
            if best is not None and metric == best.metric:
                best_step, best_value = _better(best, best_step, best_value, steps, values)
        lo, hi = line.window.extremes(now)
        lines.append(LineLive(rec.charts.owner[metric], metric, int(step) if step is not None else -1,
                              value, lo, hi, nonfinite, None if first_nf is None else int(first_nf[0]),
                              count))
    steps_total, last = rec._steps_total, rec._last_step
    if columns:
        steps_total, last = count_steps([np.asarray(c[0], dtype=np.int64) for c in columns.values()],
                                        steps_total, last)
    last_step = last if last >= 0 else None
    bests: tuple[BestLive, ...] = ()
    if best is not None:
        since = None if best_step is None or last_step is None else last_step - best_step
        bests = (BestLive(best.metric, best.mode, best_value, best_step, since),)
    return LiveView(last_step, rec.epoch, steps_total, rec._last_log_unixtime, rec.live_window,
                    rec._document is not None, tuple(lines), bests)


def _better(best: Any, step: int | None, value: float, steps: list[int], values: np.ndarray) -> tuple[Any, float]:
    """The running best after also considering buffered values (earliest on ties, finite only)."""
    for s, v in zip(steps, values.tolist()):
        if math.isfinite(v) and (step is None or (v < value if best.mode == "min" else v > value)):
            step, value = s, v
    return step, value
