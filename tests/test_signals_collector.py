"""The signals' collector (curvewatch.signals.collector) on RunTracker's real endpoint and on its own."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from curvewatch.prom import RunInfo
from curvewatch.signals import SignalsCollector, SpikeDetector
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families


def _scrape(url: str) -> dict[str, list]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_same_labels_as_the_training_series(tmp_path: Path) -> None:
    import curvewatch

    rng = np.random.default_rng(0)
    with curvewatch.RunTracker("spiky", root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db", best="val_loss") as run:
        for step in range(1, 1001):
            loss = 1.0 + 0.01 * rng.standard_normal()
            run.log(train_loss=loss * (8.0 if step == 700 else 1.0), lr=0.1)
        run.epoch_end(1, val_loss=0.9)
        families = _scrape(run.url)
        value_labels = {frozenset(s.labels) for s in families["curvewatch_value"]}
        spikes = {s.labels["metric"]: s for s in families["curvewatch_spikes"]}
        assert {frozenset(s.labels) for s in spikes.values()} <= value_labels  # run_id, rank, chart, metric
        assert spikes["train_loss"].value == 1 and spikes["lr"].value == 0
        assert spikes["train_loss"].labels["chart"] == "loss" and spikes["train_loss"].labels["run_id"] == run.run_id
        step = {s.labels["metric"]: s.value for s in families["curvewatch_last_spike_step"]}
        assert step == {"train_loss": 700}
        unrecovered = {s.labels["metric"]: s.value for s in families["curvewatch_spike_unrecovered"]}
        assert unrecovered == {"train_loss": 0, "lr": 0, "val_loss": 0}
        assert not any(name.startswith("curvewatch_device_") for name in families)  # no GPU here: no series
        run.finish({"w": __import__("torch").zeros(1)})


class _Broken:
    def read(self) -> tuple:
        raise RuntimeError("NVML exploded")


def test_a_failing_source_never_breaks_the_scrape(caplog: pytest.LogCaptureFixture) -> None:
    detector = SpikeDetector()
    detector.log(1, {"train_loss": 1.0})
    registry = CollectorRegistry()
    SignalsCollector(RunInfo(run_id="r"), spikes=detector, devices=_Broken(), registry=registry)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            names = [m.name for m in registry.collect()]
    assert "curvewatch_spikes" in names and not any(n.startswith("curvewatch_device") for n in names)
    assert sum("device reader" in r.getMessage() for r in caplog.records) == 1  # once a minute, not per scrape


def test_absent_means_absent() -> None:
    registry = CollectorRegistry()
    SignalsCollector(RunInfo(run_id="r"), registry=registry)
    assert list(registry.collect()) == []
    with pytest.raises(TypeError, match="must be a RunInfo"):
        SignalsCollector("r")  # type: ignore[arg-type]


def test_signals_on_the_endpoint(tmp_path: Path) -> None:
    import curvewatch
    import torch

    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    db = f"sqlite:///{tmp_path}/r.db"
    with curvewatch.RunTracker("endpoint", root=tmp_path, db_url=db, best="train_loss", model=model, optimizer=opt,
                               grad_norm=True, checkpoint_every=1) as run:
        for step in range(1, 401):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            run.log(train_loss=loss.detach() * (9.0 if step == 300 else 1.0))
        run.epoch_end(1)
        families = _scrape(run.url)
        assert families["curvewatch_grad_norm_steps"][0].value == 400
        assert {s.labels["metric"]: s.value for s in families["curvewatch_last_spike_step"]} == {"train_loss": 300}
        state = run.state_dict()
        run.finish()
    with curvewatch.RunTracker("endpoint", root=tmp_path, db_url=db, best="train_loss", serve=False) as resumed:
        resumed.load_state_dict(state)
        assert resumed.spikes.lines() == run.spikes.lines()  # events and watches go on
        resumed.fail("only the resume was checked")


class _OneDevice:
    def read(self) -> tuple:
        from curvewatch.signals.devices import DeviceReading

        return (DeviceReading("cuda:0", 1.0, 2.0, 3.0, 0.5, 40.0),)


def test_the_signals_table_in_docs_architecture_is_what_the_collector_exposes() -> None:
    from curvewatch.signals import GradNormMeter
    from fixtures.architecture import metric_table

    detector = SpikeDetector()
    for step in range(1, 200):
        detector.log(step, {"train_loss": 1.0 + (9.0 if step == 150 else 0.0) + 0.01 * (step % 3)})
    meter = GradNormMeter()
    meter.record(0.8)
    registry = CollectorRegistry()
    SignalsCollector(RunInfo(run_id="r"), spikes=detector, grad_norm=meter, devices=_OneDevice(), registry=registry)
    exposed = {}
    for family in registry.collect():
        for sample in family.samples:
            exposed[sample.name] = (family.type, set(sample.labels))
    documented = metric_table("Training signals", {"run_id", "rank"})
    assert set(documented) - set(exposed) == set()  # every documented series is there
    assert {name: exposed[name] for name in documented} == documented
