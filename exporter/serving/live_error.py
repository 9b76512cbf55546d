"""The live error of a served version over a sliding window of matched predictions and of wall time.

    window = LiveErrorWindow(size=1000, seconds=7 * 86400)
    window.add(now, predicted, actual, naive)     # one joined prediction (scalars or equal-length sequences)
    window.metrics(now)                           # {"mae": ..., "rmse": ..., "mape": ..., "mase": ...}, count

MAE, RMSE and MAPE are the trainers' (``100 · mean(|e| / max(|y|, MAPE_FLOOR))``); MASE is the MAE over
the MAE of the seasonal-naive forecasts stored with the predictions, when every matched prediction in the
window has one. For classifiers (``task="classification"``) the window holds ``accuracy``.

Guarantees (tests named after them in ``tests/test_serving_monitor.py``):
- live_error_window_holds_the_last_matched_predictions_within_its_time: only the last ``size`` joined
  predictions count, and of those only the ones joined within ``seconds`` of ``now``.
- live_metrics_match_the_trainers_definitions: on the same values MAE/RMSE/MAPE equal ``RegressionSums``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from ._names import MAPE_FLOOR, TASKS

__all__ = ["LiveErrorWindow"]


def _sums(predicted: Any, actual: Any, naive: Any) -> tuple[int, float, float, float, float]:
    """``(n, Σ|e|, Σe², Σ|e|/max(|y|, floor), Σ|naive e|)`` of one joined prediction (NaN: no naive)."""
    if isinstance(predicted, (int, float)) and isinstance(actual, (int, float)):
        e = predicted - actual
        naive_abs = abs(naive - actual) if isinstance(naive, (int, float)) else math.nan
        return 1, abs(e), e * e, abs(e) / max(abs(actual), MAPE_FLOOR), naive_abs
    ps = list(predicted) if not isinstance(predicted, (int, float)) else [predicted]
    ys = list(actual) if not isinstance(actual, (int, float)) else [actual]  # a number: the first day's actual
    ys = ys[: len(ps)]  # actuals may be a prefix of the horizon (the days that have happened)
    ns = (list(naive) if not isinstance(naive, (int, float)) else [naive])[: len(ys)] if naive is not None else None
    a = s = p = 0.0
    for pv, yv in zip(ps, ys):
        e = float(pv) - float(yv)
        a, s, p = a + abs(e), s + e * e, p + abs(e) / max(abs(float(yv)), MAPE_FLOOR)
    naive_abs = sum(abs(float(nv) - float(yv)) for nv, yv in zip(ns, ys)) if ns is not None else math.nan
    return len(ys), a, s, p, naive_abs


class LiveErrorWindow:
    """Sliding sums of the last ``size`` joined predictions; ``metrics(now)`` keeps those within ``seconds``."""

    def __init__(self, size: int, seconds: float, task: str = "regression") -> None:
        if task not in TASKS:
            raise ValueError(f"`task` can be {', '.join(TASKS)}, got {task!r}.")
        if size < 1 or not seconds > 0:
            raise ValueError(f"The live error window needs size >= 1 and seconds > 0, got {size} and {seconds}.")
        self.task, self.seconds = task, float(seconds)
        self._items: deque[tuple] = deque(maxlen=int(size))

    def add(self, now: float, predicted: Any, actual: Any, naive: Any = None) -> None:
        if self.task == "classification":
            self._items.append((now, 1, float(predicted == actual)))
        else:
            self._items.append((now, *_sums(predicted, actual, naive)))

    def metrics(self, now: float) -> tuple[dict[str, float], int]:
        """``({metric: value}, matched predictions counted)``; values are NaN over an empty window."""
        cutoff = now - self.seconds
        held = [item for item in self._items if item[0] >= cutoff]
        if self.task == "classification":
            correct = sum(i[2] for i in held)
            return {"accuracy": correct / len(held) if held else math.nan}, len(held)
        n = sum(i[1] for i in held)
        if not n:
            return {"mae": math.nan, "rmse": math.nan, "mape": math.nan, "mase": math.nan}, 0
        mae = sum(i[2] for i in held) / n
        naive = sum(i[5] for i in held)  # NaN when one prediction had no naive forecast
        return {"mae": mae, "rmse": math.sqrt(sum(i[3] for i in held) / n), "mape": 100.0 * sum(i[4] for i in held) / n,
                "mase": mae * n / naive if naive > 0 else math.nan}, len(held)
