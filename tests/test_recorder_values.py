"""Guarantee 9 of CurveRecorder: values are recorded as they were logged; bad ones are refused
at their own log() call, and nothing logged before is lost."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from curvewatch import CurveRecorder, RecorderError
from curvewatch.recorder import _staging
from curvewatch.recorder._values import chunk_arrays

pytestmark = pytest.mark.usefixtures("each_log_buffer")  # compiled and pure-Python log()


def line_of(doc: dict, metric: str) -> dict:
    return next(line for chart in doc["charts"] for line in chart["lines"] if line["metric"] == metric)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bfloat16])
def test_values_as_logged_after_in_place_mutation(dtype) -> None:
    rec = CurveRecorder(budget=100)
    v = torch.zeros((), dtype=dtype)
    total = torch.zeros(1, dtype=dtype)
    for s in range(10):
        v.fill_(s)
        total += 1  # an accumulator logged every step
        rec.log(s, x=v, total=total)
    doc = rec.finalize()
    assert line_of(doc, "x")["y"] == [float(s) for s in range(10)]
    assert line_of(doc, "total")["y"] == [float(s + 1) for s in range(10)]


def test_values_as_logged_through_the_device_staging_slots() -> None:
    """The device path (CUDA, MPS) on CPU tensors: copies queued per value, read once per chunk."""
    staging = _staging.Staging()
    src = torch.zeros((), dtype=torch.float32, requires_grad=False)
    slots = []
    n = _staging.SLOTS + 10  # across two staging chunks
    for s in range(n):
        src.fill_(s)
        slots.append(staging.put(src if s % 2 else src.reshape(1)))
    src.fill_(-1)  # later changes do not reach the slots
    out = np.full(n + 1, np.nan)
    _staging.read_slots(out, list(range(1, n + 1)), slots)
    assert math.isnan(out[0]) and out[1:].tolist() == [float(s) for s in range(n)]
    steps, values = chunk_arrays((np.arange(3, dtype=np.int64).tobytes(), np.array([0.5, np.nan, 2.0]).tobytes(),
                                  [(1, slots[7])]))
    assert steps.tolist() == [0, 1, 2] and values.tolist() == [0.5, 7.0, 2.0]


def test_values_as_logged_with_gradients_and_no_item_sync_needed() -> None:
    w = torch.ones(3, requires_grad=True)
    rec = CurveRecorder(budget=100)
    for s in range(5):
        rec.log(s, loss=(w * s).sum())
    assert line_of(rec.finalize(), "loss")["y"] == [0.0, 3.0, 6.0, 9.0, 12.0]


def test_values_as_logged_sparse_and_quantized_cpu_tensors_are_read_exactly() -> None:
    """On the CPU these have one exact value (read at log()); on a device they are refused."""
    rec = CurveRecorder(budget=100)
    sparse = torch.sparse_coo_tensor([[0]], [2.5], (1,), check_invariants=True)
    with warnings.catch_warnings():  # torch 2.13 deprecates the quantized dtypes; they still exist
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.quantize_per_tensor(torch.tensor([1.5]), 0.5, 0, torch.quint8)
    rec.log(0, sparse=sparse, quantized=quantized)
    doc = rec.finalize()
    assert line_of(doc, "sparse")["y"] == [2.5] and line_of(doc, "quantized")["y"] == [1.5]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.empty((), device="meta"), "meta tensor"),
        (torch.ones(2), "shape \\(2,\\)"),
        (torch.tensor(1 + 2j), "log a real number"),
        (torch.tensor(True), "log a real number"),
    ],
)
def test_values_as_logged_an_unconvertible_tensor_is_refused_at_its_own_call(bad, message) -> None:
    rec = CurveRecorder(budget=1000)
    for s in range(100):
        rec.log(s, loss=torch.tensor(float(s)), lr=0.1)
    with pytest.raises(RecorderError, match=f"Metric 'grad' at step 100 .*{message}"):
        rec.log(100, loss=torch.tensor(100.0), grad=bad)
    rec.log(101, loss=torch.tensor(101.0))
    doc = rec.finalize()
    assert line_of(doc, "loss")["x"] == [*range(100), 101]  # the refused call stored nothing
    assert line_of(doc, "loss")["y"] == [*map(float, range(100)), 101.0]
    assert line_of(doc, "lr")["points_logged"] == 100
    assert "grad" not in {line["metric"] for chart in doc["charts"] for line in chart["lines"]}


@pytest.mark.parametrize("name", ["", "\n", "val\tloss", "a\x00b", "\u200b"])
def test_values_as_logged_an_empty_or_unprintable_metric_name_is_refused_at_log(name) -> None:
    rec = CurveRecorder(budget=8)
    rec.log(0, loss=1.0)
    with pytest.raises(RecorderError, match="metric name must be a non-empty printable string"):
        rec.log(1, loss=2.0, **{name: 1.0})
    rec.log(1, loss=3.0)
    doc = rec.finalize()  # the document stays valid against its schema
    assert [line["metric"] for chart in doc["charts"] for line in chart["lines"]] == ["loss"]
    assert line_of(doc, "loss")["y"] == [1.0, 3.0]


def test_cheap_logging_floats_runs_no_python_code_between_folds(each_log_buffer) -> None:
    """A float goes into its buffer with no Python call besides the buffer's own log() (none at
    all in the compiled buffer); only a fold (every 4,096 values of a metric) runs more."""
    import sys

    rec = CurveRecorder(budget=100)
    log = rec.log
    log(0, loss=0.5, lr=0.1)  # first call of each metric: names checked, once
    calls: list[str] = []
    sys.setprofile(lambda frame, event, arg: calls.append(frame.f_code.co_name) if event == "call" else None)
    try:
        for s in range(1, 4000):
            log(s, loss=0.5, lr=0.1)
    finally:
        sys.setprofile(None)
    assert calls == ([] if each_log_buffer == "compiled" else ["log"] * 3999)
    doc = rec.finalize()
    assert line_of(doc, "loss")["points_logged"] == 4000
