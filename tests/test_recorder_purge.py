"""Guarantees 7 and 8 of CurveRecorder: purges drop only the metric that went back; resumes."""

from __future__ import annotations

import logging

import pytest
import torch
from curvewatch import CurveRecorder, validate_document
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("each_log_buffer")  # compiled and pure-Python log()


def lines_of(doc: dict) -> dict[str, dict]:
    return {line["metric"]: line for chart in doc["charts"] for line in chart["lines"]}


def test_purges_only_the_metric_that_went_back_cross_metric_cadence_keeps_every_point(caplog) -> None:
    rec = CurveRecorder(budget=100)
    with caplog.at_level(logging.WARNING, logger="curvewatch.recorder"):
        for s in range(20):
            rec.log(s, train_loss=float(s))
        rec.log(5, val_loss=0.3)  # evaluation logged at an older step
        for epoch in range(3):  # per-epoch metric at its own, older cadence
            rec.log(epoch, epoch_acc=0.5 + epoch / 10)
        rec.log(20, train_loss=20.0)
    doc = rec.finalize()
    lines = lines_of(doc)
    assert lines["train_loss"]["x"] == list(range(21))
    assert lines["val_loss"]["x"] == [5] and lines["epoch_acc"]["x"] == [0, 1, 2]
    assert doc["purged_points"] == 0 and all(line["purged_points"] == 0 for line in lines.values())
    assert doc["last_step"] == 20 and not caplog.records


def test_purges_only_the_metric_that_went_back_its_own_stale_tail() -> None:
    rec = CurveRecorder(budget=100)
    for s in range(30):
        rec.log(s, train_loss=float(s), lr=0.1)
        if s % 10 == 0:
            rec.log(s, val_loss=float(s))
    rec.snapshot()  # part folded, part buffered: both are purged alike
    for s in range(30, 35):
        rec.log(s, train_loss=float(s), lr=0.1)
    rec.log(12, train_loss=-1.0)  # train restarts at 12; lr and val_loss are not touched
    lines = lines_of(rec.finalize())
    assert lines["train_loss"]["x"] == [*range(12), 12] and lines["train_loss"]["y"][-1] == -1.0
    assert lines["train_loss"]["purged_points"] == 35 - 12
    assert lines["lr"]["x"] == list(range(35)) and lines["lr"]["purged_points"] == 0
    assert lines["val_loss"]["x"] == [0, 10, 20] and lines["val_loss"]["purged_points"] == 0


def test_purges_only_the_metric_that_went_back_and_the_best_point_follows() -> None:
    rec = CurveRecorder(budget=100)
    rec.track_best("val", "min")
    for s in range(50):
        rec.log(s, train=float(s))
        if s % 10 == 0:
            rec.log(s, val=1.0 / (s + 1))
    rec.log(25, val=5.0)  # val restarts: its points at 30 and 40 go, the best with them
    doc = rec.finalize()
    assert doc["best"]["step"] == 20 and doc["best"]["values"]["train"] == {"step": 20, "value": 20.0}
    assert lines_of(doc)["val"]["purged_points"] == 2 and doc["purged_points"] == 2


def test_resumable_resume_purges_each_metrics_stale_tail_once(tmp_path) -> None:
    rec = CurveRecorder(budget=1000)
    for s in range(150):
        rec.log(s, train=float(s))
        if s % 10 == 0:
            rec.log(s, val=float(s))
    torch.save(rec.state_dict(), tmp_path / "rec.pt")  # outlived the checkpoint taken at step 99
    resumed = CurveRecorder(budget=1000)
    resumed.load_state_dict(torch.load(tmp_path / "rec.pt", weights_only=True))
    for s in range(100, 200):
        if s % 10 == 0:
            resumed.log(s, val=-float(s))  # the resumed loop logs val first, at step 100
        resumed.log(s, train=-float(s))
    doc = resumed.finalize()
    lines = lines_of(doc)
    assert lines["train"]["purged_points"] == 50 and lines["val"]["purged_points"] == 5
    assert doc["purged_points"] == 55
    assert lines["train"]["x"] == list(range(200)) and lines["val"]["x"] == list(range(0, 200, 10))
    assert lines["train"]["y"][99:101] == [99.0, -100.0]


def test_resumable_explicit_resume_purges_every_metric() -> None:
    rec = CurveRecorder(budget=100)
    for s in range(40):
        rec.log(s, a=float(s), b=float(-s))
    assert rec.resume(30) == 20
    rec.log(35, b=1.0)  # after the resume, logging goes on per metric
    lines = lines_of(rec.finalize())
    assert lines["a"]["x"] == list(range(30)) and lines["b"]["x"] == [*range(30), 35]
    assert (lines["a"]["purged_points"], lines["b"]["purged_points"]) == (10, 10)


def test_resumable_load_state_dict_then_a_later_step_purges_nothing() -> None:
    rec = CurveRecorder(budget=100)
    for s in range(10):
        rec.log(s, a=float(s))
    resumed = CurveRecorder(budget=100)
    resumed.load_state_dict(rec.state_dict())
    resumed.log(10, a=10.0)
    resumed.log(3, b=1.0)  # a metric at its own older step after the resume: nothing purged
    doc = resumed.finalize()
    assert doc["purged_points"] == 0 and lines_of(doc)["a"]["x"] == list(range(11))


def _reference(script: list[tuple[int, str, float]]) -> tuple[dict[str, list[tuple[int, float]]], dict[str, int]]:
    """The simplest recorder: every point per metric; a metric going back drops its own tail."""
    points: dict[str, list[tuple[int, float]]] = {}
    purged: dict[str, int] = {}
    for step, metric, value in script:
        pts = points.setdefault(metric, [])
        if pts and step < pts[-1][0]:
            kept = [p for p in pts if p[0] < step]
            purged[metric] = purged.get(metric, 0) + len(pts) - len(kept)
            pts[:] = kept
        pts.append((step, value))
    return points, purged


@settings(max_examples=120, deadline=None)
@given(script=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["train", "val", "lr"]),
                                 st.floats(-100, 100, allow_nan=False)), max_size=70),
       budget=st.sampled_from([8, 100]), fold_every=st.integers(1, 40))
def test_purges_only_the_metric_that_went_back_like_a_reference_recorder(script, budget, fold_every) -> None:
    rec = CurveRecorder(budget=budget)
    for i, (step, metric, value) in enumerate(script):
        rec.log(step, **{metric: value})
        if i % fold_every == fold_every - 1:
            rec.snapshot()
    doc = rec.finalize()
    points, purged = _reference(script)
    lines = lines_of(doc)
    assert set(lines) == set(points)
    for metric, pts in points.items():
        line = lines[metric]
        got = list(zip(line["x"], line["y"]))
        assert got[-1] == pts[-1] and got[0] == pts[0]  # true first and last points
        ys = [v for _, v in pts]
        assert min(ys) in line["y"] and max(ys) in line["y"]  # extremes kept
        if len(pts) <= budget:
            assert got == pts and line["purged_points"] == purged.get(metric, 0)
    assert doc["last_step"] == max(p[-1][0] for p in points.values()) if points else doc["last_step"] is None
    validate_document(doc)
