"""Bad input to the recorder gets a clear error that says what to do, and loses no data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from curvewatch import CurveRecorder, RecorderError

pytestmark = pytest.mark.usefixtures("each_log_buffer")  # compiled and pure-Python log()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "not a bool"),
        ("0.5", "not a bool, str or None"),
        (None, "None"),
        ([1.0], "log a number"),
        (torch.ones(3), "one-element tensor"),
        (torch.tensor(True), "log a real number"),
        (10**400, "too large for a float64"),
    ],
)
def test_a_value_that_is_not_a_number_is_refused_and_nothing_of_the_call_is_kept(value, message) -> None:
    rec = CurveRecorder(budget=8)
    rec.log(0, loss=1.0, acc=0.5)
    with pytest.raises(RecorderError, match=message):
        rec.log(1, loss=2.0, acc=value)
    rec.log(1, loss=3.0, acc=0.7)
    doc = rec.finalize()
    lines = {line["metric"]: line for chart in doc["charts"] for line in chart["lines"]}
    assert lines["loss"]["x"] == [0, 1] and lines["loss"]["y"] == [1.0, 3.0]
    assert lines["acc"]["y"] == [0.5, 0.7]


@pytest.mark.parametrize("step", [1.0, "3", True, None, -1, 2**63])
def test_a_step_that_is_not_a_non_negative_int_is_refused(step) -> None:
    rec = CurveRecorder(budget=8)
    with pytest.raises(RecorderError, match="step must be"):
        rec.log(step, loss=1.0)


def test_numpy_and_integer_values_and_numpy_steps_are_accepted() -> None:
    rec = CurveRecorder(budget=8)
    rec.log(np.int64(3), a=np.float32(0.25), b=7, c=torch.tensor(2, dtype=torch.int32))
    doc = rec.finalize()
    ys = {line["metric"]: line["y"] for chart in doc["charts"] for line in chart["lines"]}
    assert ys == {"a": [0.25], "b": [7.0], "c": [2.0]}


def test_an_unknown_mode_lists_the_valid_ones() -> None:
    with pytest.raises(RecorderError, match="`mode` can be min, max, got 'best'"):
        CurveRecorder().track_best("val_loss", mode="best")


def test_track_best_on_a_metric_never_logged_fails_at_finalize() -> None:
    rec = CurveRecorder(budget=8)
    rec.track_best("val_loss")
    rec.log(0, loss=1.0)
    with pytest.raises(RecorderError, match="never logged; logged metrics are: loss"):
        rec.finalize()


@pytest.mark.parametrize("budget", [7, 0, -5, 8.0, True])
def test_a_budget_below_8_is_refused(budget) -> None:
    with pytest.raises(RecorderError, match="budget must be an int >= 8"):
        CurveRecorder(budget=budget)


def test_logging_after_finalize_says_to_start_a_new_recorder() -> None:
    rec = CurveRecorder(budget=8)
    rec.log(0, loss=1.0)
    rec.finalize()
    with pytest.raises(RecorderError, match="create a new CurveRecorder"):
        rec.log(1, loss=1.0)


def test_chart_declarations_are_checked() -> None:
    rec = CurveRecorder(budget=8)
    rec.chart("loss", ["train", "val"])
    with pytest.raises(RecorderError, match="already drawn in chart 'loss'"):
        rec.chart("other", ["val"])
    with pytest.raises(RecorderError, match="`yscale` can be"):
        rec.chart("x", yscale="logarithmic")
    with pytest.raises(RecorderError, match="labels name metrics not in chart"):
        rec.chart("y", ["a"], labels={"b": "B"})


def test_unknown_metrics_get_a_chart_of_their_own_and_declared_charts_keep_their_order() -> None:
    rec = CurveRecorder(budget=8)
    rec.log(0, lr=0.1)  # logged before any chart: moves into its chart once declared
    rec.chart("loss", ["train", "val"], title="Loss", ylabel="MSE", yscale="log", labels={"val": "validation"})
    rec.chart("lr", ["lr"], title="Learning rate")
    rec.log(1, train=1.0, val=2.0, grad_norm=3.0)
    doc = rec.finalize()
    assert [c["name"] for c in doc["charts"]] == ["loss", "lr", "grad_norm"]
    loss = doc["charts"][0]
    assert (loss["title"], loss["ylabel"], loss["yscale"]) == ("Loss", "MSE", "log")
    assert [(line["metric"], line["label"]) for line in loss["lines"]] == [("train", "train"), ("val", "validation")]


def test_a_refused_value_in_a_metrics_first_call_leaves_the_recorder_usable() -> None:
    rec = CurveRecorder(budget=8)
    with pytest.raises(RecorderError):
        rec.log(0, a=1.0, b="x")
    rec.snapshot()  # folding must not trip over the rolled-back call
    rec.log(1, a=2.0)
    doc = rec.finalize()
    assert [(line["metric"], line["x"]) for c in doc["charts"] for line in c["lines"]] == [("a", [1])]


def test_a_bad_epoch_is_refused_with_its_own_message() -> None:
    with pytest.raises(RecorderError, match="An epoch must be an int >= 0"):
        CurveRecorder().set_epoch(-1)


def test_declaring_a_chart_named_like_an_automatic_chart_keeps_that_chart_s_line() -> None:
    rec = CurveRecorder(budget=8)
    rec.log(0, loss=1.0)
    rec.snapshot()  # "loss" now has a chart of its own, called "loss"
    rec.chart("loss", ["train_loss", "val_loss"], title="Loss")
    rec.log(1, train_loss=0.5, val_loss=0.7, loss=0.9)
    doc = rec.finalize()
    charts = {c["name"]: [line["metric"] for line in c["lines"]] for c in doc["charts"]}
    assert charts == {"loss": ["train_loss", "val_loss"], "loss_": ["loss"]}
