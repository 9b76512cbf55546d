"""A recorder whose folds feed a spike detector: the detector adds nothing to ``log()``.

    detector = SpikeDetector()
    rec = SpikeWatchedRecorder(budget=1000, spikes=detector)   # what RunTracker(spikes=True) uses
    rec.log(step, train_loss=loss)                              # the recorder's own log(), unchanged
    detector.lines()                                            # at a scrape: runs over what was logged

Guarantees (each has a test named after it in tests/test_signals_recorded.py):

- sees_every_value_once: the detector runs over each value the recorder's log buffer holds exactly once,
  at a scrape (``lines()``, reading the buffer without changing it, as the recorder's live view does) or
  right before the recorder folds it (every fold and every path that empties the buffer: ``state_dict``,
  ``snapshot``, ``finalize``, ``resume``, a metric going back, ``load_state_dict``); the result equals a
  detector fed every call.
- nothing_added_to_log: ``log()`` is the recorder's own compiled method; the detector's NumPy pass runs
  at folds (``FLUSH_EVERY`` values per metric) and scrapes.

It overrides ``CurveRecorder._flush`` and ``load_state_dict`` (the recorder has no public fold hook yet);
tests pin that contract.
"""

from __future__ import annotations

from typing import Any

from curvewatch.recorder import CurveRecorder

from .spikes import SpikeDetector

__all__ = ["SpikeWatchedRecorder"]


class SpikeWatchedRecorder(CurveRecorder):
    """A ``CurveRecorder`` whose ``spikes`` detector reads its log buffer (see the module docstring)."""

    def __init__(self, budget: int = 1000, *, spikes: SpikeDetector, **kwargs: Any) -> None:
        if not isinstance(spikes, SpikeDetector):
            raise TypeError(f"spikes= takes a SpikeDetector, got {type(spikes).__name__}.")
        self.spikes = spikes
        super().__init__(budget, **kwargs)
        spikes.follow(self._buf)

    def _flush(self) -> None:
        with self.spikes.folding():  # the values about to be folded, first
            super()._flush()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with self.spikes.folding():
            super().load_state_dict(state)
