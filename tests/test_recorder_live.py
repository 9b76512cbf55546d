"""The live view: what scrape threads read while the training loop logs."""

from __future__ import annotations

import math
import threading

import pytest
from curvewatch import CurveRecorder
from curvewatch.recorder.live import LiveWindow

pytestmark = pytest.mark.usefixtures("each_log_buffer")  # compiled and pure-Python log()


def test_live_view_reports_latest_values_counts_and_best_so_far() -> None:
    rec = CurveRecorder(budget=8)
    rec.track_best("val", "min")
    rec.set_epoch(2)
    for s in range(10):
        rec.log(s, train=float(10 - s))
    rec.log(9, val=0.5)
    rec.log(12, train=math.nan)
    view = rec.live()
    assert (view.step, view.epoch, view.steps_total) == (12, 2, 11)
    lines = {line.metric: line for line in view.lines}
    assert lines["train"].points_total == 11 and lines["train"].nonfinite_total == 1
    assert lines["train"].first_nonfinite_step == 12 and math.isnan(lines["train"].value)
    assert (lines["train"].window_min, lines["train"].window_max) == (1.0, 10.0)
    (best,) = view.best
    assert (best.metric, best.value, best.step, best.steps_since) == ("val", 0.5, 9, 3)
    assert view.last_log_unixtime is not None and not view.finalized


def test_window_keeps_a_spike_for_every_reader_until_it_expires() -> None:
    window = LiveWindow(seconds=60)
    window.add_extremes(1000.0, 1.0, 50.0)  # a spike seen at t=1000
    window.add_extremes(1030.0, 0.5, 1.0)
    assert window.extremes(1031.0) == (0.5, 50.0)
    assert window.extremes(1031.0) == (0.5, 50.0)  # reading does not reset (two Prometheus servers)
    assert window.extremes(1062.0) == (0.5, 1.0)  # the spike left the window
    assert all(math.isnan(v) for v in window.extremes(1200.0))


def test_live_reads_from_another_thread_lose_nothing() -> None:
    rec = CurveRecorder(budget=64, live_window=3600)  # however slow the machine, nothing leaves the window
    stop = threading.Event()
    views = []

    def scrape() -> None:
        while not stop.is_set():
            views.append(rec.live())

    t = threading.Thread(target=scrape)
    t.start()
    n = 60_000
    try:
        for s in range(n):
            rec.log(s, loss=float(s % 1000), lr=0.1)
    finally:
        stop.set()
        t.join()
    assert len(views) > 1
    totals = [next(line.points_total for line in v.lines if line.metric == "loss") for v in views if v.lines]
    assert totals == sorted(totals)  # a counter: never goes down
    final = {line.metric: line for line in rec.live().lines}
    assert final["loss"].points_total == n and final["lr"].points_total == n
    assert final["loss"].window_max == 999.0
    doc = rec.finalize()
    assert doc["steps_total"] == n


def test_live_scans_only_values_logged_since_the_previous_read(monkeypatch) -> None:
    from curvewatch.recorder import _live_scan

    converted = []
    real = _live_scan.chunk_arrays
    monkeypatch.setattr(_live_scan, "chunk_arrays", lambda c: converted.append(len(c[1]) // 8) or real(c))
    rec = CurveRecorder(budget=64)
    for s in range(1000):
        rec.log(s, loss=float(s))
    first = rec.live()
    for s in range(1000, 1010):
        rec.log(s, loss=-1.0)
    second = rec.live()
    assert converted == [1000, 10]
    assert (first.lines[0].points_total, second.lines[0].points_total) == (1000, 1010)
    assert (second.lines[0].window_min, second.lines[0].window_max) == (-1.0, 999.0)
    assert (second.step, second.steps_total) == (1009, 1010)
