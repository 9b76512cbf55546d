"""One test per guarantee of CurveRecorder's docstring (named after it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from curvewatch import CurveRecorder, encode_document, validate_document
from curvewatch.recorder._buckets import M4Buckets
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("each_log_buffer")  # compiled and pure-Python log()


def spiky_loss(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 2.0 / np.sqrt(1 + t / 50) + 0.05 * rng.standard_normal(n)
    spikes = rng.choice(n, size=max(1, n // 5000), replace=False)
    y[spikes] *= rng.uniform(5, 20, size=spikes.size)
    return y


def log_series(rec: CurveRecorder, metric: str, steps, values) -> None:
    for s, v in zip(steps, values):
        rec.log(int(s), **{metric: float(v)})


def line_of(doc: dict, metric: str) -> dict:
    return next(line for chart in doc["charts"] for line in chart["lines"] if line["metric"] == metric)


@pytest.mark.parametrize("n", [1, 7, 64, 65, 1000, 123_457])
def test_bounded(n: int) -> None:
    rec = CurveRecorder(budget=64)
    rec.track_best("loss")
    log_series(rec, "loss", range(n), spiky_loss(n))
    line = line_of(rec.finalize(), "loss")
    assert len(line["x"]) <= 64 + 1
    assert line["points_logged"] == n


def test_bounded_over_1e8_steps_without_being_told_the_length() -> None:
    rec = CurveRecorder(budget=32)
    steps = np.linspace(0, 10**8, 20_000).astype(np.int64)
    log_series(rec, "loss", steps, spiky_loss(steps.size))
    doc = rec.snapshot()
    assert len(line_of(doc, "loss")["x"]) <= 32
    assert line_of(doc, "loss")["x"][-1] == 10**8


def test_bounded_state_does_not_grow_with_run_length() -> None:
    from curvewatch.recorder._line import RAW_LIMIT

    sizes = []
    for n in (10_000, 40_000, 400_000):
        rec = CurveRecorder(budget=100)
        log_series(rec, "loss", range(n), spiky_loss(n))
        sizes.append(count_numbers(rec.state_dict()))
    assert sizes[2] == sizes[1]  # fixed-size bucket arrays: the state does not grow with the run
    assert sizes[0] < 2 * RAW_LIMIT + 100  # a short line holds its points (fewer than RAW_LIMIT)


def count_numbers(obj) -> int:
    if isinstance(obj, dict):
        return sum(count_numbers(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(count_numbers(v) for v in obj)
    return 1


@pytest.mark.parametrize("stride", [1, 100, 10_007])
def test_exact_when_small(stride: int) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(100)
    values[[10, 20, 30]] = [math.nan, math.inf, -math.inf]
    steps = np.arange(100) * stride
    rec = CurveRecorder(budget=100)
    log_series(rec, "loss", steps, values)
    line = line_of(rec.finalize(), "loss")
    assert line["x"] == steps.tolist()
    np.testing.assert_array_equal(np.asarray(line["y"]), values)


def test_faithful_always_keeps_first_last_extremes_and_first_nonfinite() -> None:
    n = 200_003
    y = spiky_loss(n, seed=3)
    y[150_000] = -10.0  # a lone global minimum
    y[77_777] = 1e6  # a lone global maximum
    y[120_000] = -math.inf  # first non-finite, then more far apart (other buckets at any width)
    y[[150_000 + 1, 180_000]] = [math.nan, math.inf]
    rec = CurveRecorder(budget=100)
    log_series(rec, "loss", range(n), y)
    line = line_of(rec.finalize(), "loss")
    pts = set(zip(line["x"], [str(v) for v in line["y"]]))
    for step in (0, n - 1, 150_000, 77_777, 120_000):
        assert (step, str(y[step])) in pts
    assert line["first_nonfinite"] == {"step": 120_000, "value": -math.inf}
    assert line["nonfinite_count"] == 3


def wavy_with_spikes_and_gaps(n: int, rng: np.random.Generator, nan_last: bool) -> np.ndarray:
    """A wave whose extremes are not spikes, spikes both ways, isolated NaNs, maybe a NaN last point."""
    y = 5 + 3 * np.sin(2 * np.pi * np.arange(n) / n * 1.3) + 0.01 * rng.standard_normal(n)
    k = int(rng.integers(2, 30))
    at = rng.choice(n - 2, k, replace=False) + 1
    y[at] += rng.choice([-1, 1], k) * rng.uniform(0.3, 1.5, k)
    y[rng.choice(n - 2, int(rng.integers(1, 3)), replace=False) + 1] = math.nan
    if nan_last:
        y[-1] = math.nan
    return y


@pytest.mark.parametrize("budget", [8, 9, 12, 16, 24, 32])
def test_faithful_always_keeps_the_true_last_point_at_small_budgets(budget: int) -> None:
    # Spikes, isolated NaNs and a NaN last point compete for the few places of a small budget: the
    # required points (first, last, min, max, first non-finite) always get theirs, spikes the rest.
    rng = np.random.default_rng(budget)
    for trial in range(12):
        n = int(rng.choice([300, 5000, 20_000]))
        y = wavy_with_spikes_and_gaps(n, rng, nan_last=trial % 2 == 0)
        rec = CurveRecorder(budget=budget)
        log_series(rec, "loss", range(n), y)
        line = line_of(rec.finalize(), "loss")
        assert len(line["x"]) <= budget
        assert line["x"][-1] == n - 1
        assert str(line["y"][-1]) == str(y[-1])


def test_faithful_dense_where_the_curve_moves_sparse_where_flat() -> None:
    n = 100_000
    y = np.ones(n)
    y[n // 2:] = np.sin(np.arange(n // 2) / 300.0)  # moves only in the second half
    rec = CurveRecorder(budget=200)
    log_series(rec, "loss", range(n), y)
    x = np.asarray(line_of(rec.finalize(), "loss")["x"])
    assert (x >= n // 2).sum() > 5 * (x < n // 2).sum()


def test_faithful_streaming_m4_equals_offline_m4() -> None:
    rng = np.random.default_rng(7)
    steps = np.arange(50_000, dtype=np.int64)
    values = rng.standard_normal(steps.size)
    stream = M4Buckets(64, origin=0)
    for chunk in np.array_split(np.arange(steps.size), 37):  # arbitrary chunking, many doublings
        stream.add(steps[chunk], values[chunk])
    idx = steps // stream.width
    for b in range(int(idx.max()) + 1):
        vs, ss = values[idx == b], steps[idx == b]
        assert stream.steps["first"][b] == ss[0] and stream.steps["last"][b] == ss[-1]
        assert stream.values["min"][b] == vs.min() and stream.steps["min"][b] == ss[np.argmin(vs)]
        assert stream.values["max"][b] == vs.max() and stream.steps["max"][b] == ss[np.argmax(vs)]


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 40), min_size=1, max_size=400),
    levels=st.lists(st.sampled_from([0.0, 1.0, 2.0, -1.0, math.nan, math.inf, -math.inf]), min_size=1),
    cuts=st.lists(st.integers(1, 60), max_size=20),
    n_buckets=st.sampled_from([2, 8, 64]),
)
def test_faithful_streaming_m4_equals_offline_m4_on_any_chunking(gaps, levels, cuts, n_buckets) -> None:
    """Repeated steps, gaps, ties, NaN/inf, chunks spanning one bucket or many: the same as offline."""
    steps = np.cumsum(gaps).astype(np.int64)
    values = np.array([levels[i % len(levels)] for i in range(steps.size)])
    stream = M4Buckets(n_buckets, origin=int(steps[0]))
    at = 0
    for size in [*cuts, steps.size]:
        stream.add(steps[at:at + size], values[at:at + size])
        at += size
    idx = (steps - steps[0]) // stream.width
    for b in range(n_buckets):
        ss, vs = steps[idx == b], values[idx == b]
        fin = np.isfinite(vs)
        expect = {"first": None, "last": None, "min": None, "max": None, "nonfinite": None, "min2": None,
                  "max2": None}
        if fin.any():
            fs, fv = ss[fin], vs[fin]
            expect.update(first=(fs[0], fv[0]), last=(fs[-1], fv[-1]), min=(fs[np.argmin(fv)], fv.min()),
                          max=(fs[np.argmax(fv)], fv.max()))  # argmin/argmax: ties keep the earliest
            expect.update(min2=None, max2=None)
            if fv.size > 1:  # the runners-up: the extreme once the extreme itself is out
                lo, hi = np.delete(fv, np.argmin(fv)), np.delete(fv, np.argmax(fv))
                los, his = np.delete(fs, np.argmin(fv)), np.delete(fs, np.argmax(fv))
                expect.update(min2=(los[np.argmin(lo)], lo.min()), max2=(his[np.argmax(hi)], hi.max()))
        if not fin.all():
            expect["nonfinite"] = (ss[~fin][0], vs[~fin][0])
        for slot, want in expect.items():
            got_step = int(stream.steps[slot][b])
            if want is None:
                assert got_step == -1, (slot, b)
            else:
                assert got_step == want[0], (slot, b)
                assert float(stream.values[slot][b]) == want[1] or (math.isnan(want[1]) and
                                                                    math.isnan(stream.values[slot][b]))


@pytest.mark.parametrize(
    ("mode", "values", "expected_step"),
    [
        ("min", [3.0, 1.0, 2.0, 1.0], 19),  # ties keep the earliest step
        ("max", [3.0, 1.0, 3.0, 2.0], 9),
        ("min", [math.nan, 2.0, -math.inf, 5.0], 19),  # NaN and inf are never best
        ("max", [math.inf, 2.0, math.nan, 4.0], 39),
    ],
)
def test_final_best_point_only(mode: str, values: list[float], expected_step: int) -> None:
    rec = CurveRecorder(budget=16)
    rec.track_best("val", mode=mode)
    for i, v in enumerate(values):
        for s in range(i * 10, i * 10 + 10):
            rec.log(s, train=float(s))
        rec.log(i * 10 + 9, val=v)
    assert rec.document is None
    doc = rec.finalize()
    best = doc["best"]
    assert best["step"] == expected_step and best["mode"] == mode
    assert best["values"]["train"] == {"step": expected_step, "value": float(expected_step)}
    for metric in ("train", "val"):
        line = line_of(doc, metric)
        bi = line["best_index"]
        assert line["x"][bi] == best["values"][metric]["step"]
        assert sum(1 for x in line["x"] if x == line["x"][bi]) == 1  # inserted exactly once
        assert line["x"] == sorted(line["x"])


@pytest.mark.parametrize("mode", ["min", "max"])
def test_final_best_point_ties_keep_the_earliest_step_across_folds(mode: str) -> None:
    rec = CurveRecorder(budget=16)
    rec.track_best("val", mode=mode)
    rec.log(0, val=5.0)
    rec.log(10, val=1.0 if mode == "min" else 9.0)  # the best, first seen
    rec.snapshot()  # folded: the later tie comes in another chunk
    rec.log(20, val=5.0)
    rec.log(30, val=1.0 if mode == "min" else 9.0)
    rec.snapshot()
    rec.log(40, val=1.0 if mode == "min" else 9.0)
    assert rec.finalize()["best"]["step"] == 10


def test_final_best_point_gives_most_recent_earlier_value_of_metrics_not_logged_then() -> None:
    rec = CurveRecorder(budget=8)  # small budget: lines get downsampled, the best is inserted
    rec.track_best("val_loss", "min")
    for s in range(5000):
        rec.log(s, loss=float(5000 - s) + (s % 7))
        if s % 100 == 0:
            rec.log(s, val_loss=abs(s - 2300) / 100.0)
        if s % 1000 == 999:
            rec.log(s, lr=1.0 / (s + 1))
    doc = rec.finalize()
    best = doc["best"]
    assert best["step"] == 2300 and best["value"] == 0.0
    assert best["values"]["lr"] == {"step": 1999, "value": 1.0 / 2000}
    assert best["values"]["loss"] == {"step": 2300, "value": float(5000 - 2300) + (2300 % 7)}
    for metric in ("loss", "lr", "val_loss"):
        line = line_of(doc, metric)
        assert len(line["x"]) <= 8 + 1
        assert line["x"][line["best_index"]] == best["values"][metric]["step"]


DETERMINISM_RUN = """
import sys, torch
sys.path.insert(0, sys.argv[1])
from test_recorder_guarantees import spiky_loss
from curvewatch import CurveRecorder, encode_document
rec = CurveRecorder(budget=50)
rec.chart("loss", ["train", "val"], title="Loss", yscale="log")
rec.track_best("val")
for s, v in enumerate(spiky_loss(30_000, seed=11)):
    rec.log(s, train=float(v), lr=torch.tensor(0.1), **{f"m{s % 7}": float(s % 5)})
    if s % 97 == 0:
        rec.log(s, val=float(v) * 1.1)
sys.stdout.write(encode_document(rec.finalize()))
"""


def test_deterministic() -> None:
    """Byte-identical JSON across processes with different hash seeds (set and dict order)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    def run(seed: str) -> bytes:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", DETERMINISM_RUN, str(Path(__file__).parent)], env=env,
                              capture_output=True, timeout=300, check=True)
        return proc.stdout

    first = run("1")
    assert len(first) > 1000 and run("2") == first == run("12345")


def test_resumable_continues_exactly(tmp_path) -> None:
    y = spiky_loss(20_000, seed=5)

    def feed(rec: CurveRecorder, lo: int, hi: int) -> None:
        for s in range(lo, hi):
            rec.log(s, loss=float(y[s]))
            if s % 50 == 0:
                rec.log(s, val=float(y[s]) + 1)

    whole = CurveRecorder(budget=40)
    whole.track_best("val")
    feed(whole, 0, 20_000)

    first = CurveRecorder(budget=40)
    first.track_best("val")
    feed(first, 0, 12_345)
    torch.save(first.state_dict(), tmp_path / "rec.pt")
    resumed = CurveRecorder(budget=40)
    resumed.load_state_dict(torch.load(tmp_path / "rec.pt", weights_only=True))
    feed(resumed, 12_345, 20_000)
    assert resumed.purged_points == 0
    assert encode_document(resumed.finalize()) == encode_document(whole.finalize())


def test_resumable_drops_the_stale_tail_and_says_how_many() -> None:
    rec = CurveRecorder(budget=1000)
    rec.track_best("loss")
    for s in range(100):
        rec.log(s, loss=float(100 - s))
    state = rec.state_dict()  # checkpoint at step 99
    for s in range(100, 150):
        rec.log(s, loss=0.5)  # later lost: the process dies
    stale = rec.state_dict()

    resumed = CurveRecorder(budget=1000)
    resumed.load_state_dict(stale)  # the recorder state outlived the model checkpoint (step 99)
    resumed.log(100, loss=7.0)
    assert resumed.purged_points == 50
    doc = resumed.finalize()
    assert line_of(doc, "loss")["x"] == list(range(101))
    assert doc["best"]["step"] == 99  # the purged 0.5 values no longer count

    clean = CurveRecorder(budget=1000)
    clean.load_state_dict(state)
    clean.log(99, loss=2.0)  # re-logging the last step after a resume purges it too
    assert clean.purged_points == 1


def test_documents_validate_against_the_schema() -> None:
    rec = CurveRecorder(budget=10)
    rec.chart("loss", ["train", "val"], ylabel="MSE", yscale="log", labels={"train": "train loss"})
    rec.track_best("val")
    for s in range(100):
        rec.log(s, train=float(s), acc=torch.tensor(s % 3, dtype=torch.int64))
        rec.log(s, val=math.nan if s == 50 else float(s % 10))
    validate_document(rec.snapshot())
    validate_document(rec.finalize())


@pytest.mark.parametrize("restart_at", [5, 1000, 1500])
def test_resumable_purges_lines_that_outgrew_the_budget(restart_at: int) -> None:
    """A line past its budget (streaming M4) that started late is purged below, at and inside its range."""
    rec = CurveRecorder(budget=8)
    for s in range(1000, 2000):
        rec.log(s, val_loss=float(s % 17))
    rec.snapshot()
    rec.log(restart_at, val_loss=-1.0)  # a restart re-logs from here
    for s in range(restart_at + 1, restart_at + 20):
        rec.log(s, val_loss=float(s % 5))
    line = line_of(rec.finalize(), "val_loss")
    assert line["x"] == sorted(line["x"]) and len(line["x"]) <= 8
    assert all(x < restart_at for x in line["x"][: line["x"].index(restart_at)])
    assert line["x"][-1] == restart_at + 19 and -1.0 in line["y"]
    assert rec.purged_points > 0
