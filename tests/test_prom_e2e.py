"""A real Prometheus scrapes a process that is logging: every metric of the table, rate(), spikes."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Iterator

import pytest
from curvewatch import CurveRecorder
from curvewatch.prom import Exporter, RunInfo
from fixtures.prometheus import ServerProcess, query, start_prometheus, wait_for
from test_prom_collector import RUN as COLLECTOR_RUN
from test_prom_collector import TABLE

RUN = dataclasses.replace(COLLECTOR_RUN, run_id="e2e")
NAN_STEP = 30
SPIKE = 12345.0


class TrainingThread(threading.Thread):
    """A training loop logging every few milliseconds; ``spike()`` logs one huge value between scrapes."""

    def __init__(self, rec: CurveRecorder):
        super().__init__(daemon=True)
        self.rec, self.stop_event, self.spike_requested, self.spiked = (
            rec,
            threading.Event(),
            False,
            threading.Event(),
        )

    def run(self) -> None:
        step = 0
        while not self.stop_event.is_set():
            loss = 1.0 / (step + 1)
            if self.spike_requested and not self.spiked.is_set():
                loss = SPIKE
                self.spiked.set()
            self.rec.log(step, train_loss=loss, lr=0.01, grad_norm=math.nan if step == NAN_STEP else 1.0)
            if step % 50 == 49:
                self.rec.log(step, val_loss=1.0 / (step + 1) + (0.5 if step > 200 else 0.0))
                self.rec.set_epoch(step // 50)
            step += 1
            time.sleep(0.002)  # pace of a small training step

    def spike(self) -> None:
        self.spike_requested = True
        assert self.spiked.wait(timeout=10)


@pytest.fixture(scope="module")
def logging_run() -> Iterator[tuple[Exporter, TrainingThread]]:
    rec = CurveRecorder(budget=200, live_window=60.0)
    rec.chart("loss", ["train_loss", "val_loss"])
    rec.track_best("val_loss", mode="min")
    trainer = TrainingThread(rec)
    exporter = Exporter(rec, run=RUN)
    exporter.start(port=0)
    trainer.start()
    yield exporter, trainer
    trainer.stop_event.set()
    trainer.join(timeout=10)
    exporter.stop()


@pytest.fixture(scope="module")
def proms(tmp_path_factory: pytest.TempPathFactory, logging_run) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two real Prometheus servers scraping the logging run (started together: each takes ~5 s to scrape)."""
    target = [f"127.0.0.1:{logging_run[0].port}"]
    servers = [start_prometheus(tmp_path_factory.mktemp("prometheus"), scrape_targets=target) for _ in range(2)]
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


def value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_a_real_prometheus_sees_every_metric_with_its_labels(proms) -> None:
    prom = proms[0]
    for name, (_, labels) in TABLE.items():
        result = wait_for(prom.url, f'{name}{{run_id="e2e"}}')
        for series in result:
            assert set(series["metric"]) == labels | {"__name__", "job", "instance"}, name
            assert series["metric"]["job"] == "curvewatch"
    info = wait_for(prom.url, 'curvewatch_run_info{run_id="e2e"}')[0]["metric"]
    assert {k: info[k] for k in RUN.info_labels()} == RUN.info_labels() and info["rank"] == "0"
    assert value(query(prom.url, 'curvewatch_run_state{run_id="e2e",state="running"}')) == 1.0
    assert value(query(prom.url, 'curvewatch_window_seconds{run_id="e2e"}')) == 60.0
    grad = '{run_id="e2e",chart="grad_norm",metric="grad_norm"}'
    assert value(query(prom.url, f"curvewatch_first_nonfinite_step{grad}")) == NAN_STEP
    assert value(query(prom.url, f"curvewatch_nonfinite_total{grad}")) == 1.0
    assert abs(value(query(prom.url, 'curvewatch_last_step_timestamp_seconds{run_id="e2e"}')) - time.time()) < 30
    best = wait_for(prom.url, 'curvewatch_best_value{run_id="e2e",metric="val_loss",mode="min"}')
    best_step = value(query(prom.url, 'curvewatch_best_step{run_id="e2e",metric="val_loss",mode="min"}'))
    assert 0 < value(best) <= 1.0 and best_step % 50 == 49
    assert value(query(prom.url, 'curvewatch_value{run_id="e2e",chart="lr",metric="lr"}')) == 0.01


def test_rate_of_steps_total_is_positive(proms) -> None:
    prom = proms[0]
    result = wait_for(
        prom.url,
        'rate(curvewatch_steps_total{run_id="e2e"}[5s])',
        lambda r: bool(r) and float(r[0]["value"][1]) > 0,
    )
    assert float(result[0]["value"][1]) > 10  # hundreds of steps per second in fact


def test_a_finished_run_is_exposed_as_finished_next_to_a_running_one(proms, logging_run) -> None:
    exporter, _ = logging_run
    exporter.add(CurveRecorder(), RunInfo(run_id="e2e-done", rank=0))
    exporter.set_state("finished", run_id="e2e-done")
    states = wait_for(proms[0].url, 'curvewatch_run_state{run_id=~"e2e.*"} == 1', lambda r: len(r) == 2)
    assert {s["metric"]["run_id"]: s["metric"]["state"] for s in states} == {
        "e2e": "running",
        "e2e-done": "finished",
    }


def test_a_spike_between_two_scrapes_shows_in_the_window_max_of_two_prometheus_servers(proms, logging_run) -> None:
    _, trainer = logging_run
    first, second = proms
    line = '{run_id="e2e",chart="loss",metric="train_loss"}'
    for prom in (first, second):
        wait_for(prom.url, f"curvewatch_window_max{line}")
    trainer.spike()  # the next step overwrites the latest value within milliseconds
    for prom in (first, second):  # no reset on scrape: both servers see it
        wait_for(prom.url, f"curvewatch_window_max{line} == {SPIKE}")
