"""SpikeWatchedRecorder (curvewatch.signals.recorded): the recorder's folds and scrapes feed the detector."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from curvewatch.recorder import CurveRecorder
from curvewatch.recorder.recorder import FLUSH_EVERY
from curvewatch.signals import SpikeDetector
from curvewatch.signals.recorded import SpikeWatchedRecorder


def _loss(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = (0.2 + 2.0 * np.exp(-np.arange(n) / (n / 4))) * (1 + 0.03 * rng.standard_normal(n))
    for at in (n // 5, n // 2, n - n // 7):  # three spikes
        values[at] *= 7.0
    values[n - n // 10:] *= 5.0  # and a jump that stays
    return values


def _reference(values: np.ndarray, start: int = 1) -> list:
    detector = SpikeDetector(recover_steps=100)
    for step, value in enumerate(values, start=start):
        detector.log(step, {"train_loss": float(value)})
    return detector.lines()


def test_sees_every_value_once() -> None:
    values = _loss(2 * FLUSH_EVERY + 5000)  # folds twice by filling the buffer, then at state_dict()
    detector = SpikeDetector(recover_steps=100)
    rec = SpikeWatchedRecorder(budget=200, spikes=detector)
    for step, value in enumerate(values, start=1):
        rec.log(step, train_loss=float(value), lr=0.1)
        if step % 7919 == 0:
            detector.lines()  # a scrape in between: reads without changing the buffer
        if step == 30_000:
            rec.state_dict()  # a fold outside log()
    lines = {line.metric: line for line in detector.lines()}
    assert [lines["train_loss"]] == _reference(values)
    assert lines["train_loss"].events == 4 and lines["train_loss"].unrecovered
    assert lines["lr"].events == 0
    assert rec.finalize()["steps_total"] == values.size  # the curves are the recorder's, untouched


def test_sees_every_value_once_across_a_resume_and_a_metric_going_back() -> None:
    values = _loss(20_000, seed=1)
    detector = SpikeDetector(recover_steps=100)
    rec = SpikeWatchedRecorder(budget=200, spikes=detector)
    for step, value in enumerate(values[:12_000], start=1):
        rec.log(step, train_loss=float(value))
    state, spikes_state = rec.state_dict(), detector.state_dict()
    resumed_detector = SpikeDetector(recover_steps=100)
    resumed = SpikeWatchedRecorder(budget=200, spikes=resumed_detector)
    resumed.load_state_dict(state)
    resumed_detector.load_state_dict(spikes_state)
    for step, value in enumerate(values[12_000:], start=12_001):
        resumed.log(step, train_loss=float(value))
    assert resumed_detector.lines() == _reference(values)


def test_sees_every_value_once_with_a_scraping_thread() -> None:
    values = _loss(FLUSH_EVERY + 3000, seed=2)
    detector = SpikeDetector(recover_steps=100)
    rec = SpikeWatchedRecorder(budget=200, spikes=detector)
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            detector.lines()
            rec.live()

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for step, value in enumerate(values, start=1):
            rec.log(step, train_loss=float(value))
    finally:
        stop.set()
        scraper.join(timeout=30)
    assert detector.lines() == _reference(values)


def test_nothing_added_to_log() -> None:
    rec = SpikeWatchedRecorder(budget=100, spikes=SpikeDetector())
    plain = CurveRecorder(budget=100)
    assert rec.log.__self__ is rec._buf and type(rec.log) is type(plain.log)  # the buffer's own method
    with pytest.raises(RuntimeError, match="follows a recorder"):
        rec.spikes.log(1, {"x": 1.0})
    with pytest.raises(TypeError, match="takes a SpikeDetector"):
        SpikeWatchedRecorder(spikes=True)  # type: ignore[arg-type]
