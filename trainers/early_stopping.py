"""Early stopping as a pure decision (Lightning ``EarlyStopping`` semantics) and its explicit state."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["EarlyStoppingState", "early_stopping_decision"]

_MODES = ("min", "max")


@dataclass(frozen=True)
class EarlyStoppingState:
    """What the decision remembers between epochs: the best score so far and the epochs since it."""

    best: float | None = None
    wait: int = 0

    def to_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    @classmethod
    def from_dict(cls, d: dict) -> EarlyStoppingState:
        return cls(best=d["best"], wait=int(d["wait"]))


def early_stopping_decision(
    state: EarlyStoppingState, current: float, *, patience: int, min_delta: float = 0.0, mode: str = "min"
) -> tuple[EarlyStoppingState, bool, str]:
    """Fold one epoch's score into ``state``: returns ``(new_state, should_stop, reason)``.

    An improvement is ``current < best - min_delta`` (``mode="min"``) or ``current > best + min_delta``
    (``"max"``); it resets the wait. Otherwise the wait grows by one and training stops once it reaches
    ``patience``. A NaN or infinite score is never an improvement (treated as the worst value on purpose,
    so a diverged run runs out of patience instead of looking best). ``patience <= 0`` never stops.
    """
    if mode not in _MODES:
        raise ValueError(f"`mode` can be {', '.join(_MODES)}, got {mode!r}.")
    if min_delta < 0:
        raise ValueError(f"`min_delta` must be 0 or more, got {min_delta}.")
    finite = math.isfinite(current)
    if state.best is None:
        improved = finite
    elif mode == "min":
        improved = finite and current < state.best - min_delta
    else:
        improved = finite and current > state.best + min_delta
    if improved:
        return EarlyStoppingState(best=float(current), wait=0), False, f"improved to {current:.6g}"
    new = replace(state, wait=state.wait + 1)
    if 0 < patience <= new.wait:
        best = "none" if new.best is None else f"{new.best:.6g}"
        return new, True, f"no improvement above min_delta={min_delta} for {new.wait} epochs (best {best})"
    return new, False, f"no improvement for {new.wait} epoch(s)"
