"""The log buffer (exporter/recorder/_logbuf.py): its contract, held by the compiled buffer and by
its pure-Python twin alike, and recorders on either giving byte-identical documents."""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest
import torch
from curvewatch import CurveRecorder, RecorderError, encode_document
from curvewatch.recorder import _logbuf
from hypothesis import given, settings
from hypothesis import strategies as st


def test_the_compiled_log_buffer_is_built() -> None:
    from curvewatch.recorder import _clogbuf  # scripts/setup.sh compiles it (pip install, gcc)

    assert _logbuf.compiled()
    assert isinstance(CurveRecorder().log.__self__, _clogbuf.LogBuffer)


def _implementations() -> list:
    from curvewatch.recorder import _clogbuf

    return [pytest.param(_clogbuf.LogBuffer, id="compiled"), pytest.param(_logbuf.PyLogBuffer, id="pure-python")]


class Calls:
    """The five callbacks, recording what they were asked."""

    def __init__(self) -> None:
        self.steps: list[object] = []
        self.values: list[tuple[str, object, int]] = []
        self.new: list[str] = []
        self.back: list[tuple[str, int]] = []
        self.floors: dict[str, int] = {}  # what on_new answers (default -1: never logged)
        self.fulls = 0
        self.fail_full = False

    def on_new(self, name: str) -> int:
        self.new.append(name)
        if name == "":
            raise RecorderError("bad name")
        return self.floors.get(name, -1)

    def on_back(self, name: str, step: int) -> None:
        self.back.append((name, step))

    def on_step(self, step: object) -> int:
        self.steps.append(step)
        if not isinstance(step, (int, np.integer)) or isinstance(step, bool) or step < 0:
            raise RecorderError(f"bad step {step!r}")
        return int(step)

    def on_value(self, name: str, value: object, step: int) -> object:
        self.values.append((name, value, step))
        if isinstance(value, str):
            raise RecorderError(f"bad value {value!r}")
        return value if isinstance(value, torch.Tensor) else float(value)

    def on_full(self) -> None:
        self.fulls += 1
        if self.fail_full:
            raise RuntimeError("fold failed")


def unpack(chunk) -> tuple[list[int], list[float], list[tuple[int, object]]]:
    steps, values, objects = chunk
    return (list(struct.unpack(f"{len(steps) // 8}q", steps)), list(struct.unpack(f"{len(values) // 8}d", values)),
            objects)


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_stores_floats_and_reads_without_consuming(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    for s in range(5):
        buf.log(s, loss=s / 2, lr=0.1)
    buf.log(7, loss=-0.0)
    assert buf.sizes() == {"loss": 6, "lr": 5}
    assert unpack(buf.read("loss", 1, 3)) == ([1, 2], [0.5, 1.0], [])
    assert unpack(buf.read("loss", 4, 99)) == ([4, 7], [2.0, -0.0], [])
    assert buf.sizes() == {"loss": 6, "lr": 5}  # read() consumed nothing
    assert buf.floor == 0 and c.steps == [] and c.values == [] and c.fulls == 0  # log() never moves floor
    assert c.new == ["loss", "lr"] and c.back == []
    taken = buf.take()
    assert unpack(taken["lr"]) == ([0, 1, 2, 3, 4], [0.1] * 5, [])
    assert buf.sizes() == {}
    buf.log(8, lr=0.2)
    assert buf.sizes() == {"lr": 1}
    buf.clear()
    assert buf.sizes() == {}


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_calls_on_step_for_a_step_not_an_int_below_floor_or_closed(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    buf.log(5, x=1.0)
    buf.log(np.int64(6), x=2.0)  # not an exact int: checked, then used as returned
    buf.floor = 4  # what the recorder sets to hear about the next step (a resume)
    buf.log(3, x=3.0)  # below floor: on_step; below x's own last step: on_back
    buf.floor = 0
    with pytest.raises(RecorderError, match="bad step -1"):
        buf.log(-1, x=4.0)
    with pytest.raises(RecorderError, match="bad step 2.5"):
        buf.log(2.5, x=4.0)
    buf.closed = True
    buf.log(10, x=5.0)
    assert c.steps == [np.int64(6), 3, -1, 2.5, 10] and c.back == [("x", 3)]
    assert unpack(buf.take()["x"])[0] == [5, 6, 3, 10]
    buf.floor = 2**40
    assert buf.floor == 2**40 and buf.closed


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_a_call_with_a_refused_value_stores_nothing(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    buf.log(0, a=1.0)
    with pytest.raises(RecorderError, match="bad value 'no'"):
        buf.log(1, a=2.0, new=3.0, b=7, c="no", d=5.0)
    assert buf.sizes() == {"a": 1}
    assert buf.floor == 0
    assert c.values[0] == ("b", 7, 1) and c.values[-1] == ("c", "no", 1)


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_keeps_objects_as_nan_with_their_index(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    t1, t2 = torch.tensor(1.5), torch.tensor(2.5)
    buf.log(0, x=0.5)
    buf.log(1, x=t1)
    buf.log(2, x=np.float32(0.25), y=3)  # converted to floats by on_value
    buf.log(3, x=t2)
    steps, values, objects = unpack(buf.read("x", 1, 4))
    assert steps == [1, 2, 3] and values[1] == 0.25 and math.isnan(values[0]) and math.isnan(values[2])
    assert [(i, o is t) for (i, o), t in zip(objects, (t1, t2))] == [(0, True), (2, True)]
    assert unpack(buf.read("x", 2, 3))[2] == []
    assert unpack(buf.take()["y"]) == ([2], [3.0], [])


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_calls_on_full_at_capacity_and_loses_nothing_when_the_fold_fails(impl) -> None:
    c = Calls()
    buf = impl(4, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    for s in range(3):
        buf.log(s, x=float(s))
    assert c.fulls == 0
    c.fail_full = True
    with pytest.raises(RuntimeError, match="fold failed"):
        buf.log(3, x=3.0)  # stored, then the fold failed
    with pytest.raises(RuntimeError):
        buf.log(4, x=4.0)  # past capacity: the buffer grows rather than dropping values
    c.fail_full = False
    buf.log(5, x=5.0)
    assert c.fulls == 3
    assert unpack(buf.take()["x"])[1] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_takes_many_metrics_in_one_call(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    metrics = {f"m{i}": (i if i % 2 else float(i)) for i in range(100)}  # past the C stack array
    buf.log(1, **metrics)
    assert len(buf.sizes()) == 100
    assert [unpack(buf.read(f"m{i}", 0, 1))[1][0] for i in range(100)] == [float(i) for i in range(100)]
    with pytest.raises(TypeError, match="positional argument"):
        buf.log(1, 2, x=1.0)


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_keeps_no_reference_once_taken_or_refused(impl) -> None:
    c = Calls()
    buf = impl(8, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    tensor, step, big = torch.tensor(1.0), 10**12 + 7, np.float64(2.5)
    counts = [sys.getrefcount(o) for o in (tensor, step, big)]
    for i in range(20):  # through on_full too (capacity 8)
        buf.log(step + i, t=tensor, b=big, f=0.5)
        with pytest.raises(RecorderError):
            buf.log(step + i, t=tensor, b=big, bad="no")
    buf.log(np.int64(step + 30), t=tensor)
    buf.take()
    del c.values[:]  # the callbacks' own record of what they saw
    assert [sys.getrefcount(o) for o in (tensor, step, big)] == counts


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_refuses_a_capacity_out_of_range(impl) -> None:
    for capacity in (0, 2**40 + 1, 2**61 + 1):
        with pytest.raises(ValueError, match="capacity must be between 1 and"):
            impl(capacity, int, float, lambda n: -1, lambda n, s: None, lambda: None)


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_shows_no_value_of_a_call_while_it_checks_the_call(impl) -> None:
    seen = []  # what a scrape reading while on_value runs would see

    def on_value(name: str, value: object, step: int) -> object:
        seen.append(buf.sizes())
        if isinstance(value, str):
            raise RecorderError("bad")
        return float(value)

    buf = impl(100, int, on_value, lambda n: -1, lambda n, s: None, lambda: None)
    buf.log(0, a=1.0)
    with pytest.raises(RecorderError):
        buf.log(1, a=2.0, b=3.0, c="bad")
    buf.log(2, a=2.0, b=3, z=4.0)
    assert seen == [{"a": 1}, {"a": 1}] and buf.sizes() == {"a": 2, "b": 1, "z": 1}
    assert unpack(buf.read("a", 0, -2)) == ([], [], [])  # a negative stop reads nothing


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_a_call_failing_while_storing_stores_nothing(impl) -> None:
    class FailingName(str):  # its hash works once (the kwargs), then fails (the buffer's dict)
        calls = 0

        def __hash__(self) -> int:
            FailingName.calls += 1
            if FailingName.calls > 1:
                raise RuntimeError("hash failed")
            return str.__hash__(self)

        __eq__ = str.__eq__

    buf = impl(100, int, float, lambda n: -1, lambda n, s: None, lambda: None)
    with pytest.raises(RuntimeError, match="hash failed"):
        buf.log(7, **{"a": 1.0, FailingName("z"): 3.0})
    assert buf.sizes() == {} and buf.floor == 0


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_floor_beyond_the_last_int64_step_sends_every_step_to_on_step(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    buf.floor = 2**63  # what load_state_dict sets after a run that ended at step 2**63 - 1
    assert buf.floor == 2**63
    buf.log(2**63 - 1, x=1.0)
    assert c.steps == [2**63 - 1] and buf.floor == 2**63  # only the recorder moves it


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_asks_on_new_once_per_metric_and_on_back_only_for_the_metric_that_went_back(impl) -> None:
    c = Calls()
    c.floors["val"] = 50  # folded already, up to step 50
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    for s in range(10, 20):
        buf.log(s, train=float(s))
    buf.log(5, other=1.0)  # its own first step: older than train's, nothing goes back
    buf.log(40, val=1.0)  # below val's folded last step (on_new's floor)
    buf.take()  # an emptied buffer keeps each metric's floor
    buf.log(12, train=0.5)  # below train's own last step, and only train
    buf.log(12, train=0.6, other=2.0)  # the same step again is not going back
    assert c.new == ["train", "other", "val"] and c.back == [("val", 40), ("train", 12)]
    with pytest.raises(RecorderError, match="bad name"):
        buf.log(13, train=1.0, **{"": 2.0})
    assert buf.sizes() == {"train": 2, "other": 1}  # the refused call stored nothing
    buf.clear()
    c.floors["train"] = 3
    buf.log(1, train=1.0)  # after clear() the floor comes from on_new again
    assert c.new[-1] == "train" and c.back[-1] == ("train", 1)


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_a_call_site_logging_again_after_clear_or_a_refused_call_asks_on_new_again(impl) -> None:
    """The compiled buffer remembers each call site's series; clear() and a refused call forget them."""
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)

    def site(step: int, value: float) -> None:  # one call site: the same keyword names every call
        buf.log(step, a=value, b=value)

    for s in range(3):
        site(s, float(s))
    buf.clear()
    c.floors["a"] = 1
    site(0, 9.0)  # new series again: on_new for both, and a (folded up to step 1) goes back
    assert c.new == ["a", "b", "a", "b"] and c.back == [("a", 0)]
    assert unpack(buf.take()["a"])[:2] == ([0], [9.0])
    with pytest.raises(RecorderError, match="bad name"):
        buf.log(1, a=1.0, z=1.0, **{"": 1.0})  # z's new series is made, then undone
    buf.log(2, a=2.0, z=2.0)
    assert c.new.count("z") == 2 and buf.sizes() == {"a": 1, "z": 1}


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_a_call_site_after_a_callback_cleared_the_buffer_logs_into_new_series(impl) -> None:
    buf = impl(100, int, float, lambda n: -1, lambda n, s: buf.clear(), lambda: None)

    def site(step: int, value: float) -> None:
        buf.log(step, a=value)

    buf.log(5, a=1.0, b=1.0)  # another call site, other names
    site(3, 2.0)  # the site's first call goes back: on_back empties the whole buffer mid-call
    site(6, 3.0)
    site(7, 4.0)
    assert unpack(buf.take()["a"])[1][-2:] == [3.0, 4.0]


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_many_call_sites_in_turn_keep_every_value(impl) -> None:
    """More call sites than the compiled buffer remembers, with names from literals and from dicts."""
    c = Calls()
    buf = impl(1000, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    names = [f"m{k}" for k in range(7)]
    for s in range(50):
        for k in range(6):  # six sites: two metrics each, overlapping, passed as a dict
            buf.log(s, **{names[k]: float(s * 10 + k), names[k + 1]: float(-s)})
        buf.log(s, m0=0.5)  # and one with a literal name
    taken = {name: unpack(chunk)[1] for name, chunk in buf.take().items()}
    assert c.new == names and sum(len(v) for v in taken.values()) == 50 * 13
    assert taken["m0"] == [v for s in range(50) for v in (float(s * 10), 0.5)]
    assert taken["m3"] == [v for s in range(50) for v in (float(-s), float(s * 10 + 3))]


def test_resuming_after_the_largest_step_purges_it_when_logged_again(each_log_buffer) -> None:
    rec = CurveRecorder(budget=8)
    rec.log(2**63 - 1, loss=0.5)
    resumed = CurveRecorder(budget=8)
    resumed.load_state_dict(rec.state_dict())
    resumed.log(2**63 - 1, loss=0.25)
    assert resumed.purged_points == 1 and resumed.finalize()["charts"][0]["lines"][0]["y"] == [0.25]


GC_REENTRY = """
import gc, sys
from curvewatch.recorder._clogbuf import LogBuffer
target, action = sys.argv[1], sys.argv[2]
buf = LogBuffer(1 << 20, int, lambda n, v, s: v, lambda n: -1, lambda n, s: None, lambda: None)
for i in range(200):
    buf.log(i, t=[i], u=[i])
fired = []
def callback(phase, info):  # a collection runs Python code: finalizers, weakref and gc callbacks
    if phase == "start" and len(fired) < 3:
        fired.append(1)
        if len(fired) == 3:
            getattr(buf, action)()
drained = [(i, None) for i in range(5000)]  # an empty 2-tuple free list: read()'s pairs are new allocations
gc.callbacks.append(callback)
gc.set_threshold(1)
if target == "read":
    buf.read("t", 0, 200)
elif target == "take":
    buf.take()
else:
    buf.log(500, t=[1], u=[2], v=[3], w=[4])
gc.set_threshold(700)
print("survived", len(fired))
"""


@pytest.mark.parametrize("target", ["read", "take", "log"])
@pytest.mark.parametrize("action", ["take", "clear"])
def test_compiled_log_buffer_survives_a_collection_that_empties_it_midway(target, action) -> None:
    import subprocess

    proc = subprocess.run([sys.executable, "-c", GC_REENTRY, target, action], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "survived 3", (proc.returncode, proc.stderr[-2000:])


def test_compiled_log_buffer_without_init_is_empty_not_a_crash() -> None:
    from curvewatch.recorder._clogbuf import LogBuffer

    buf = LogBuffer.__new__(LogBuffer)
    assert buf.sizes() == {} and buf.take() == {}
    buf.clear()
    with pytest.raises(KeyError):
        buf.read("x", 0, 1)


# -- recorders on either buffer give the same documents ------------------------------------------
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(2**40), 2**40),
    st.sampled_from([np.float32(0.5), np.int64(3), torch.tensor(2.5), torch.tensor([7.0]), "bad", None, True]),
)
calls = st.lists(
    st.tuples(st.integers(-3, 40), st.dictionaries(st.sampled_from(["loss", "val", "lr", "acc"]), values, max_size=4)),
    max_size=60,
)


def _recorder(budget: int, pure: bool, monkeypatch: pytest.MonkeyPatch) -> CurveRecorder:
    """A recorder tracking loss, on the pure-Python or the compiled log buffer."""
    if pure:
        monkeypatch.setenv("CURVEWATCH_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("CURVEWATCH_PURE_PYTHON", raising=False)
    rec = CurveRecorder(budget=budget)
    rec.track_best("loss")
    return rec


def _replay(script, budget: int, pure: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list, bytes, list]:
    rec = _recorder(budget, pure, monkeypatch)
    step, outcomes, views = 0, [], []
    for delta, metrics in script:
        step = max(0, step + delta) if delta > -3 else step  # -3: log the same step again
        try:
            rec.log(step, **metrics)
            outcomes.append(None)
        except RecorderError as e:
            outcomes.append(str(e))
        views.append(rec.live().lines)
    try:
        doc = encode_document(rec.finalize()).encode()
    except RecorderError as e:
        doc = str(e).encode()
    lines = [[(x.metric, x.step, x.points_total, x.nonfinite_total, x.first_nonfinite_step) for x in v] for v in views]
    return outcomes, doc, lines


@settings(max_examples=150, deadline=None)
@given(script=calls, budget=st.sampled_from([8, 16]))
def test_compiled_and_pure_python_log_buffers_give_byte_identical_documents(script, budget) -> None:
    with pytest.MonkeyPatch.context() as mp:
        compiled = _replay(script, budget, False, mp)
        pure = _replay(script, budget, True, mp)
    assert compiled == pure


# -- every call form records the same ------------------------------------------------------------
def _replay_form(script, budget: int, form: str, pure: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """Outcomes, document and live views of ``script`` logged in ``form``: "keywords" and "dict" log
    each entry in one call; "lines" and "one call per metric" log each metric of it on its own."""
    rec = _recorder(budget, pure, monkeypatch)
    lines = {name: rec.line(name) for name in ("loss", "val", "lr", "acc")}  # made before any log
    step, outcomes, views = 0, [], []
    for delta, metrics in script:
        step = max(0, step + delta) if delta > -3 else step
        calls = [metrics] if form in ("keywords", "dict") else [{k: v} for k, v in metrics.items()]
        for m in calls:
            try:
                if form == "keywords" or form == "one call per metric":
                    rec.log(step, **m)
                elif form == "dict":
                    rec.log(step, m)
                else:
                    (name, value), = m.items()
                    lines[name](step, value)
                outcomes.append(None)
            except RecorderError as e:
                outcomes.append(str(e))
        views.append([(x.metric, x.step, x.points_total, x.nonfinite_total) for x in rec.live().lines])
    try:
        doc = encode_document(rec.finalize()).encode()
    except RecorderError as e:
        doc = str(e).encode()
    return outcomes, doc, views


@settings(max_examples=100, deadline=None)
@given(script=calls, budget=st.sampled_from([8, 16]), pure=st.booleans())
def test_every_call_form_records_what_log_with_keywords_records(script, budget, pure) -> None:
    """log(step, d) == log(step, **d); line(name)(step, x) == log(step, name=x), call by call."""
    with pytest.MonkeyPatch.context() as mp:
        assert _replay_form(script, budget, "dict", pure, mp) == _replay_form(script, budget, "keywords", pure, mp)
        assert (_replay_form(script, budget, "lines", pure, mp)
                == _replay_form(script, budget, "one call per metric", pure, mp))


def test_a_line_keeps_logging_across_folds_resumes_and_a_reload(each_log_buffer) -> None:
    rec = CurveRecorder(budget=8)
    loss = rec.line("loss")
    for s in range(40_000):  # folds (FLUSH_EVERY) in between
        loss(s, 1.0 / (s + 1))
    rec.log(40_000, other=1.0)  # a new metric changes the buffer's series: the line looks its own up again
    loss(40_000, 0.5)
    assert rec.resume(30_000) > 0
    loss(30_000, 0.25)
    again = CurveRecorder(budget=8)
    again.load_state_dict(rec.state_dict())
    line2 = again.line("loss")
    line2(29_000, 0.125)  # at or below the saved last step: the reload resumes there
    doc = again.finalize()
    ys = next(ln for c in doc["charts"] for ln in c["lines"] if ln["metric"] == "loss")
    assert ys["x"][-1] == 29_000 and ys["y"][-1] == 0.125
    with pytest.raises(RecorderError, match="finalized"):
        line2(29_001, 0.5)
    with pytest.raises(RecorderError, match="finalized"):
        loss(50_000, 0.5) if rec.finalize() else None


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_refuses_a_line_called_with_other_than_step_and_value(impl) -> None:
    c = Calls()
    buf = impl(100, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    line = buf.line("a")
    with pytest.raises(TypeError):
        line(1)
    with pytest.raises(TypeError):
        buf.log(1, {"a": 1.0}, b=2.0)
    assert buf.sizes() == {}
    line(1, 2.0)
    buf.log(2, {"a": 3.0})
    assert unpack(buf.take()["a"])[:2] == ([1, 2], [2.0, 3.0])


@pytest.mark.parametrize("impl", _implementations())
def test_log_buffer_many_metrics_and_call_sites_keep_every_value(impl) -> None:
    """32 metrics in one call, 16 call sites in turn (as many as the compiled buffer remembers) and more."""
    c = Calls()
    buf = impl(100_000, c.on_step, c.on_value, c.on_new, c.on_back, c.on_full)
    wide = {f"w{i}": float(i) for i in range(40)}
    for s in range(30):
        buf.log(s, **dict(list(wide.items())[:32]))
        buf.log(s, wide)
        for site in range(20):
            buf.log(s, {f"s{site}_{i}": float(s) for i in range(4)})
    taken = {name: unpack(chunk) for name, chunk in buf.take().items()}
    assert taken["w0"][0] == [s for s in range(30) for _ in (0, 1)] and taken["w39"][0] == list(range(30))
    assert all(taken[f"s{site}_3"][1] == [float(s) for s in range(30)] for site in range(20))
