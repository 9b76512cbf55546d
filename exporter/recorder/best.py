"""The best point: the step where the tracked metric was best, with every metric's value there.

The running candidate is kept while logging (O(number of lines)); the best point itself is
decided once, at ``finalize()``. NaN and ±inf are never best; ties keep the earliest step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import RecorderError

__all__ = ["MODES", "BestPoint", "BestTracker"]

MODES = ("min", "max")


@dataclass(frozen=True)
class BestPoint:
    """``values`` maps every metric to ``(step, value)``: its value at ``step``, or its most
    recent earlier value and that value's step when it was not logged at ``step``."""

    metric: str
    mode: str
    step: int
    value: float
    values: dict[str, tuple[int, float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mode": self.mode,
            "step": self.step,
            "value": self.value,
            "values": {m: {"step": s, "value": v} for m, (s, v) in sorted(self.values.items())},
        }


class BestTracker:
    """The running best of one metric and the other metrics' latest values at its step."""

    def __init__(self, metric: str, mode: str) -> None:
        if mode not in MODES:
            raise RecorderError(f"`mode` can be {', '.join(MODES)}, got {mode!r}.")
        self.metric = metric
        self.mode = mode
        self.step: int | None = None
        self.value = math.nan
        self.values: dict[str, tuple[int, float]] = {}

    def better(self, candidate: float) -> bool:
        if not math.isfinite(candidate):
            return False  # NaN/inf are never best, on purpose
        if self.step is None:
            return True
        return candidate < self.value if self.mode == "min" else candidate > self.value

    def consider(self, steps: np.ndarray, values: np.ndarray) -> bool:
        """Take the best finite point of a chunk if it beats the candidate; earliest on ties."""
        finite = np.isfinite(values)
        if not finite.any():
            return False
        masked = np.where(finite, values, np.inf if self.mode == "min" else -np.inf)
        i = int(np.argmin(masked) if self.mode == "min" else np.argmax(masked))
        if not self.better(float(values[i])):
            return False
        self.step, self.value = int(steps[i]), float(values[i])
        self.values = {}
        return True

    def note(self, metric: str, steps: np.ndarray, values: np.ndarray, before: tuple[int, float] | None) -> None:
        """Record ``metric``'s latest value at or before the candidate step from a new chunk;
        ``before`` is the metric's last point before that chunk."""
        if self.step is None:
            return
        i = int(np.searchsorted(steps, self.step, side="right")) - 1
        if i >= 0:
            self.values[metric] = (int(steps[i]), float(values[i]))
        elif before is not None and metric not in self.values:
            self.values[metric] = before

    def result(self) -> BestPoint | None:
        if self.step is None:
            return None
        values = dict(self.values)
        values[self.metric] = (self.step, self.value)
        return BestPoint(self.metric, self.mode, self.step, self.value, values)

    def state_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mode": self.mode,
            "step": self.step,
            "value": self.value,
            "values": {m: [s, v] for m, (s, v) in self.values.items()},
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> BestTracker:
        obj = cls(state["metric"], state["mode"])
        obj.step = state["step"]
        obj.value = float(state["value"])
        obj.values = {m: (int(s), float(v)) for m, (s, v) in state["values"].items()}
        return obj
