"""``make_recorder``: a ``CurveRecorder`` with the trainer charts and best point of docs/ARCHITECTURE.md."""

from __future__ import annotations

from ._constants import BEST_METRIC, BEST_MODE, CHARTS

__all__ = ["DEFAULT_BUDGET", "make_recorder"]

DEFAULT_BUDGET = 1000


def make_recorder(budget: int = DEFAULT_BUDGET, live_window: float = 60.0):
    """A recorder with the charts of ``CHARTS`` (``loss``, ``errors``, ``mase``, ``mape``, ``r2``, ``lr``) and
    the best ``val_loss`` (min)."""
    from curvewatch.recorder import CurveRecorder

    recorder = CurveRecorder(budget=budget, live_window=live_window)
    for name, metrics, title, ylabel, yscale, labels in CHARTS:
        recorder.chart(name, metrics, title=title, ylabel=ylabel, yscale=yscale, labels=labels)
    recorder.track_best(BEST_METRIC, BEST_MODE)
    return recorder
