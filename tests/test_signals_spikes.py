"""The spike detector's guarantees (curvewatch.signals.spikes), one test each, on synthetic curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from curvewatch.signals import SpikeDetector, SpikeLine

STEPS = 6000


def _loss(seed: int = 0, steps: int = STEPS, noise: float = 0.03) -> np.ndarray:
    """A healthy training loss: exponential decay to a floor, multiplicative noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    return (0.2 + 2.0 * np.exp(-t / 1500)) * (1 + noise * rng.standard_normal(steps))


def _run(values: np.ndarray, name: str = "train_loss", **kwargs) -> SpikeLine:
    detector = SpikeDetector(**kwargs)
    for step, value in enumerate(values, start=1):
        detector.log(step, {name: float(value)})
    return {line.metric: line for line in detector.lines()}[name]


@pytest.mark.parametrize(("seed", "scale"), [(0, 1.0), (1, 1e-6), (2, 1e6), (3, 1.0)])
def test_relative_to_the_local_level(seed: int, scale: float) -> None:
    healthy = _loss(seed) * scale
    assert _run(healthy).events == 0
    spiked = healthy.copy()
    spiked[3000] *= 5.0
    line = _run(spiked)
    assert (line.events, line.last_step) == (1, 3001)
    assert line.last_size == pytest.approx(5.0, rel=0.15)
    assert not line.unrecovered  # back at the next step


@pytest.mark.parametrize("curve", ["trend", "plateau", "slow_shift", "warmup"])
def test_relative_to_the_local_level_no_spike_on_healthy_shapes(curve: str) -> None:
    t = np.arange(STEPS, dtype=float)
    rng = np.random.default_rng(7)
    values = {
        "trend": 10.0 - t * 1.5e-3,  # a straight fall, no noise (MAD 0)
        "plateau": 1.0 + 0.02 * rng.standard_normal(STEPS),
        "slow_shift": 1.0 + 0.5 * np.clip((t - 2000) / 1500, 0, 1) + 0.01 * rng.standard_normal(STEPS),
        "warmup": np.where(t < 500, 8.0 - t * 0.01, 3.0 - (t - 500) * 1e-4),  # a fast early fall
    }[curve]
    assert _run(values).events == 0


def test_one_event_per_excursion() -> None:
    values = _loss(4)
    values[2000:2004] *= 6.0  # one excursion of four steps
    values[4000] *= 3.0
    values[4001] /= 3.0  # up then down: two events on opposite sides
    line = _run(values)
    assert line.events == 3
    assert line.last_step == 4002  # the down spike's step
    assert line.last_size == pytest.approx(1 / 3, rel=0.15)


def test_unrecovered_until_back_at_the_pre_spike_level() -> None:
    values = _loss(5)
    values[3000:] *= 4.0  # jumps and stays up
    detector = SpikeDetector(recover_steps=100)
    for step, value in enumerate(values[:3050], start=1):
        detector.log(step, {"train_loss": float(value)})
    assert detector.lines()[0].events == 1 and not detector.lines()[0].unrecovered  # 50 steps: not yet
    for step, value in enumerate(values[3050:3200], start=3051):
        detector.log(step, {"train_loss": float(value)})
    assert detector.lines()[0].unrecovered  # 200 steps up: unrecovered
    for step in range(3201, 3301):  # back at the pre-spike level
        detector.log(step, {"train_loss": float(values[2990])})
    assert not detector.lines()[0].unrecovered


def test_unrecovered_until_back_at_the_pre_spike_level_down_for_a_max_metric() -> None:
    acc = 0.9 + 0.002 * np.random.default_rng(6).standard_normal(STEPS)
    drop = acc.copy()
    drop[3000:] = 0.3  # accuracy collapses and stays down
    up = acc.copy()
    up[3000:] = 1.5  # a max metric jumping up is no recovery problem
    by_mode = {"max": lambda metric: "max"}
    assert _run(drop, "val_acc", mode_of=by_mode["max"], recover_steps=100).unrecovered
    assert not _run(up, "val_acc", mode_of=by_mode["max"], recover_steps=100).unrecovered
    assert _run(up, "val_acc", recover_steps=100).unrecovered  # as a loss (min) it would be


def test_unrecovered_until_back_at_the_pre_spike_level_a_later_spike_keeps_the_watch() -> None:
    values = _loss(8)
    values[2000:] *= 10.0  # up for good (the decaying loss never gets back to its level at step 2000)
    values[4000] *= 5.0  # a second spike on the new level
    line = _run(values, recover_steps=100)
    assert line.events == 2 and line.last_step == 4001 and line.unrecovered


def test_nonfinite_values_are_skipped() -> None:
    values = _loss(9)
    values[3000] = 9.0 * values[2999]
    with_nan = values.copy()
    with_nan[[100, 2500, 4000]] = [math.nan, math.inf, -math.inf]
    line = _run(with_nan)
    assert (line.events, line.last_step) == (1, 3001)
    gone = values.copy()
    gone[3500:] = math.nan  # the line goes NaN for good: its events stay
    assert _run(gone).events == 1


def test_bounded_state() -> None:
    detector = SpikeDetector(drain_every=512)
    rng = np.random.default_rng(10)
    for step in range(1, 200_001):
        detector.log(step, {"train_loss": 1.0 + 0.01 * rng.standard_normal()})
    state = detector.state_dict()["lines"]["train_loss"]
    block, window = detector.settings.block, detector.settings.window
    assert len(state["pending"]) < block and len(state["meds"]) == len(state["mads"]) == window // block
    assert max(detector._buf.sizes().values(), default=0) < 512


@pytest.mark.parametrize("drain_every", [1, 7, 64, 4096])
def test_independent_of_when_it_runs(drain_every: int) -> None:
    values = _loss(11)
    values[[1500, 1501, 2600, 5000]] *= [7.0, 6.0, 0.2, 9.0]
    values[5500:] *= 3.0
    reference = _run(values, recover_steps=50)
    detector = SpikeDetector(drain_every=drain_every, recover_steps=50)
    for step, value in enumerate(values, start=1):
        detector.log(step, {"train_loss": float(value)})
        if step % 333 == 0:
            detector.lines()  # a scrape in between
    assert detector.lines() == [reference]
    assert reference.events == 4 and reference.unrecovered


def test_independent_of_when_it_runs_tensors_read_as_logged() -> None:
    values = _loss(12)
    values[4000] *= 6.0
    detector = SpikeDetector()
    for step, value in enumerate(values, start=1):
        detector.log(step, {"train_loss": torch.tensor(float(value), dtype=torch.float64), "lr": np.float32(0.1)})
    lines = {line.metric: line for line in detector.lines()}
    assert lines["train_loss"] == _run(values) and lines["lr"].events == 0


def test_a_resumed_detector_continues_its_events_and_watch() -> None:
    values = _loss(13)
    values[2000:] *= 4.0
    first = SpikeDetector(recover_steps=500)
    for step, value in enumerate(values[:2100], start=1):
        first.log(step, {"train_loss": float(value)})
    resumed = SpikeDetector(recover_steps=500)
    resumed.load_state_dict(first.state_dict())
    for step, value in enumerate(values[2100:], start=2101):
        resumed.log(step, {"train_loss": float(value)})
    assert resumed.lines() == [_run(values, recover_steps=500)]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"window": 4}, "window must be an integer >= 8"),
    ({"recover_steps": 0}, "recover_steps must be an integer >= 1"),
    ({"drain_every": 1.5}, "drain_every must be an integer >= 1"),
    ({"factor": 0}, "factor must be above 0"),
])
def test_bad_settings_are_refused_in_a_sentence(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SpikeDetector(**kwargs)
