"""The custom collector: names, types and labels of the ARCHITECTURE.md table, read at scrape time."""

from __future__ import annotations

import logging
import math
import subprocess

import pytest
from curvewatch import CurveRecorder
from curvewatch.prom import CurveCollector, RunInfo
from curvewatch.prom.collector import effective_state
from curvewatch.recorder.live import BestLive, LineLive, LiveView
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

RUN = RunInfo(
    run_id="run-1",
    model_type="mlp",
    mode="train",
    scope="demo",
    version="3",
    experiment="e1",
    host="h1",
    rank=0,
)
BASE = {"run_id": "run-1", "rank": "0"}
LOSS = {**BASE, "chart": "loss", "metric": "train_loss"}
BEST = {**BASE, "metric": "val_loss", "mode": "min"}

# The table of docs/ARCHITECTURE.md: exposed name -> (type, label names).
TABLE = {
    "curvewatch_run_info": (
        "gauge",
        {"run_id", "rank", "model_type", "mode", "scope", "version", "experiment", "host"},
    ),
    "curvewatch_run_state": ("gauge", {"run_id", "rank", "state"}),
    "curvewatch_run_start_time_seconds": ("gauge", {"run_id", "rank"}),
    "curvewatch_step": ("gauge", {"run_id", "rank"}),
    "curvewatch_epoch": ("gauge", {"run_id", "rank"}),
    "curvewatch_steps_total": ("counter", {"run_id", "rank"}),
    "curvewatch_last_step_timestamp_seconds": ("gauge", {"run_id", "rank"}),
    "curvewatch_value": ("gauge", {"run_id", "rank", "chart", "metric"}),
    "curvewatch_window_min": ("gauge", {"run_id", "rank", "chart", "metric"}),
    "curvewatch_window_max": ("gauge", {"run_id", "rank", "chart", "metric"}),
    "curvewatch_window_seconds": ("gauge", {"run_id", "rank"}),
    "curvewatch_best_value": ("gauge", {"run_id", "rank", "metric", "mode"}),
    "curvewatch_best_step": ("gauge", {"run_id", "rank", "metric", "mode"}),
    "curvewatch_steps_since_best": ("gauge", {"run_id", "rank", "metric", "mode"}),
    "curvewatch_nonfinite_total": ("counter", {"run_id", "rank", "chart", "metric"}),
    "curvewatch_first_nonfinite_step": ("gauge", {"run_id", "rank", "chart", "metric"}),
    "curvewatch_points_total": ("counter", {"run_id", "rank", "chart", "metric"}),
}


def make_view(
    *,
    step: int | None = 42,
    first_nonfinite: int | None = 7,
    best_step: int | None = 40,
    finalized: bool = False,
) -> LiveView:
    line = LineLive(
        chart="loss",
        metric="train_loss",
        step=42,
        value=0.5,
        window_min=0.25,
        window_max=9.0,
        nonfinite_total=2,
        first_nonfinite_step=first_nonfinite,
        points_total=43,
    )
    best = BestLive(
        metric="val_loss",
        mode="min",
        value=0.125 if best_step is not None else math.nan,
        step=best_step,
        steps_since=None if best_step is None else 2,
    )
    return LiveView(
        step=step,
        epoch=3 if step is not None else None,
        steps_total=43 if step is not None else 0,
        last_log_unixtime=1.7e9 if step is not None else None,
        window_seconds=60.0,
        finalized=finalized,
        lines=(line,) if step is not None else (),
        best=(best,),
    )


class FakeRecorder:
    def __init__(self, view: LiveView | None = None, error: Exception | None = None):
        self.view, self.error, self.calls = view or make_view(), error, 0

    def live(self) -> LiveView:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.view


def scrape(recorder: object, run: RunInfo = RUN) -> CollectorRegistry:
    registry = CollectorRegistry()
    CurveCollector(registry=registry).add(recorder, run, start_time=1.6e9)
    return registry


def test_exposes_every_metric_of_the_table_with_its_type_and_labels() -> None:
    text = generate_latest(scrape(FakeRecorder())).decode()
    seen = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            seen[sample.name] = (family.type if family.type != "info" else "gauge", set(sample.labels))
    assert seen == TABLE


@pytest.mark.parametrize(
    ("name", "labels", "expected"),
    [
        (
            "curvewatch_run_info",
            {
                **BASE,
                "model_type": "mlp",
                "mode": "train",
                "scope": "demo",
                "version": "3",
                "experiment": "e1",
                "host": "h1",
            },
            1.0,
        ),
        ("curvewatch_run_state", {**BASE, "state": "running"}, 1.0),
        ("curvewatch_run_state", {**BASE, "state": "finished"}, 0.0),
        ("curvewatch_run_state", {**BASE, "state": "failed"}, 0.0),
        ("curvewatch_run_start_time_seconds", BASE, 1.6e9),
        ("curvewatch_step", BASE, 42.0),
        ("curvewatch_epoch", BASE, 3.0),
        ("curvewatch_steps_total", BASE, 43.0),
        ("curvewatch_last_step_timestamp_seconds", BASE, 1.7e9),
        ("curvewatch_value", LOSS, 0.5),
        ("curvewatch_window_min", LOSS, 0.25),
        ("curvewatch_window_max", LOSS, 9.0),
        ("curvewatch_window_seconds", BASE, 60.0),
        ("curvewatch_best_value", BEST, 0.125),
        ("curvewatch_best_step", BEST, 40.0),
        ("curvewatch_steps_since_best", BEST, 2.0),
        ("curvewatch_nonfinite_total", LOSS, 2.0),
        ("curvewatch_first_nonfinite_step", LOSS, 7.0),
        ("curvewatch_points_total", LOSS, 43.0),
    ],
)
def test_values_come_from_the_live_view(name: str, labels: dict, expected: float) -> None:
    assert scrape(FakeRecorder()).get_sample_value(name, labels) == expected


def test_scrape_time_reads_only() -> None:
    recorder = FakeRecorder()
    registry = scrape(recorder)
    assert recorder.calls == 0  # registering reads nothing
    generate_latest(registry)
    generate_latest(registry)
    assert recorder.calls == 2


def test_absent_values_are_left_out_not_zero() -> None:
    registry = scrape(FakeRecorder(make_view(step=None, first_nonfinite=None, best_step=None)))
    for name in ("curvewatch_step", "curvewatch_epoch", "curvewatch_last_step_timestamp_seconds"):
        assert registry.get_sample_value(name, BASE) is None
    assert registry.get_sample_value("curvewatch_best_value", BEST) is None
    assert registry.get_sample_value("curvewatch_steps_total", BASE) == 0.0
    assert (
        scrape(FakeRecorder(make_view(first_nonfinite=None))).get_sample_value("curvewatch_first_nonfinite_step", LOSS)
        is None
    )


def test_a_failing_recorder_never_breaks_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    collector = CurveCollector(registry=registry)
    collector.add(FakeRecorder(error=RuntimeError("boom")), RunInfo(run_id="broken", rank=0))
    collector.add(FakeRecorder(), RUN)
    with caplog.at_level(logging.ERROR, logger="curvewatch.prom.collector"):
        generate_latest(registry)
        generate_latest(registry)  # logged once, not on every scrape
    assert [r.exc_info[1].args for r in caplog.records] == [("boom",)]
    assert "'broken'" in caplog.records[0].getMessage()
    broken = {"run_id": "broken", "rank": "0"}
    assert registry.get_sample_value("curvewatch_run_state", {**broken, "state": "running"}) == 1.0
    assert registry.get_sample_value("curvewatch_step", broken) is None
    assert registry.get_sample_value("curvewatch_step", BASE) == 42.0


def test_a_malformed_view_is_left_out_whole(caplog: pytest.LogCaptureFixture) -> None:
    bad = make_view()
    object.__setattr__(bad, "best", (object(),))  # a view that cannot be read half-way through
    with caplog.at_level(logging.ERROR, logger="curvewatch.prom.collector"):
        registry = scrape(FakeRecorder(bad))
        assert registry.get_sample_value("curvewatch_step", BASE) is None  # nothing half-exposed
    assert registry.get_sample_value("curvewatch_run_info", {**RUN.info_labels(), **BASE}) == 1.0
    assert len(caplog.records) == 1


@pytest.mark.parametrize(
    ("state", "finalized", "expected"),
    [
        ("running", False, "running"),
        ("running", True, "finished"),
        ("failed", True, "failed"),
        ("finished", False, "finished"),
    ],
)
def test_effective_state(state: str, finalized: bool, expected: str) -> None:
    assert effective_state(state, make_view(finalized=finalized)) == expected


def test_set_state_exposes_one_state_at_a_time() -> None:
    registry = CollectorRegistry()
    collector = CurveCollector(registry=registry)
    collector.add(FakeRecorder(), RUN)
    collector.set_state("failed", run_id="run-1")
    states = {
        s: registry.get_sample_value("curvewatch_run_state", {**BASE, "state": s})
        for s in ("running", "finished", "failed")
    }
    assert states == {"running": 0.0, "finished": 0.0, "failed": 1.0}
    with pytest.raises(ValueError, match="`state` can be running, finished, failed, got 'done'"):
        collector.set_state("done")
    with pytest.raises(KeyError, match="No run 'other'"):
        collector.set_state("failed", run_id="other")


def test_one_run_id_and_rank_is_exposed_once() -> None:
    collector = CurveCollector()
    collector.add(FakeRecorder(), RUN)
    with pytest.raises(ValueError, match="already exposed"):
        collector.add(FakeRecorder(), RUN)
    with pytest.raises(TypeError, match="live\\(\\) method"):
        collector.add(object(), RunInfo(run_id="x"))


def test_a_registry_refuses_a_second_collector() -> None:
    registry = CollectorRegistry()
    CurveCollector(registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        CurveCollector(registry=registry)


def test_promtool_check_metrics_accepts_the_exposition() -> None:
    text = generate_latest(scrape(FakeRecorder()))
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_spike_between_two_scrapes_stays_in_the_window_max_and_no_scrape_resets_it() -> None:
    rec = CurveRecorder(budget=100, live_window=60.0)
    registry = scrape(rec)
    rec.log(1, train_loss=0.5)
    generate_latest(registry)
    rec.log(2, train_loss=1000.0)  # the spike, overwritten before the next scrape
    rec.log(3, train_loss=0.25)
    line = {**BASE, "chart": "train_loss", "metric": "train_loss"}
    for _ in range(2):  # a second scraper sees the same
        assert registry.get_sample_value("curvewatch_value", line) == 0.25
        assert registry.get_sample_value("curvewatch_window_max", line) == 1000.0
        assert registry.get_sample_value("curvewatch_window_min", line) == 0.25


def test_the_metric_table_in_docs_architecture_is_the_one_tested_here() -> None:
    from fixtures.architecture import metric_table

    assert metric_table("Prometheus metric names", {"run_id", "rank"}) == TABLE
