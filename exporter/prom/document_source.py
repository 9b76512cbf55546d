"""A saved curves document (``curves.json``) as a source for the collector: ``curvewatch serve``.

>>> exporter = Exporter(DocumentSource("saved_models/.../v3/curves.json"), run="mlp-v3")

``live()`` re-reads the file when its modification time changes (a trainer that saves mid-run is
followed) and maps the document onto the live view: latest step, epoch and steps; per line the last
kept value, the points logged, the non-finite count and first non-finite step; the best point. A saved
document has no wall clock, so its "window" is the whole run: window min/max are over every finite
kept value (the recorder always keeps each line's extremes) and ``window_seconds`` is +Inf; the
heartbeat is the file's modification time.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

from curvewatch.recorder import BestLive, LineLive, LiveView, load_document

__all__ = ["DocumentSource", "live_view_from_document"]


def _line_live(chart: str, line: dict[str, Any]) -> LineLive:
    finite = [float(y) for y in line["y"] if math.isfinite(y)]
    first = line["first_nonfinite"]
    return LineLive(
        chart=chart,
        metric=line["metric"],
        step=int(line["x"][-1]) if line["x"] else 0,
        value=float(line["y"][-1]) if line["y"] else math.nan,
        window_min=min(finite, default=math.nan),
        window_max=max(finite, default=math.nan),
        nonfinite_total=int(line["nonfinite_count"]),
        first_nonfinite_step=None if first is None else int(first["step"]),
        points_total=int(line["points_logged"]),
    )


def live_view_from_document(doc: dict[str, Any], mtime: float | None = None) -> LiveView:
    """The live view a finished (or saved mid-run) document stands for; see the module docstring."""
    best = doc["best"]
    last_step = doc["last_step"]
    best_live = ()
    if best is not None:
        since = None if last_step is None else int(last_step) - int(best["step"])
        best_live = (BestLive(best["metric"], best["mode"], float(best["value"]), int(best["step"]), since),)
    return LiveView(
        step=last_step,
        epoch=doc["epoch"],
        steps_total=int(doc["steps_total"]),
        last_log_unixtime=mtime,
        window_seconds=math.inf,
        finalized=bool(doc["final"]),
        lines=tuple(_line_live(chart["name"], line) for chart in doc["charts"] for line in chart["lines"]),
        best=best_live,
    )


class DocumentSource:
    """Anything with ``live()``, read from a curves JSON file (validated; reloaded when it changes)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"The curves document {self.path} does not exist; pass the path of a saved curves.json."
            )
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._view: LiveView | None = None
        self.live()  # a missing or invalid file fails here, with the recorder's clear message

    def live(self) -> LiveView:
        with self._lock:
            mtime = self.path.stat().st_mtime
            if self._view is None or mtime != self._mtime:
                self._view = live_view_from_document(load_document(self.path), mtime)
                self._mtime = mtime
            return self._view
