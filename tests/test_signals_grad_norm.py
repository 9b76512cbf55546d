"""The gradient norm meter's guarantees (curvewatch.signals.grad_norm), and RunTracker(grad_norm=True)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from curvewatch.signals import GradNormMeter


def _model_with_grads(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 2))
    model.add_module("unused", torch.nn.Linear(3, 3))  # never in the graph: no gradient
    model[2](model[1](model[0](torch.randn(16, 5)))).square().mean().backward()
    return model


def test_the_global_norm_of_every_gradient() -> None:
    model = _model_with_grads()
    expected = math.sqrt(sum(float(p.grad.square().sum()) for p in model.parameters() if p.grad is not None))
    norm = GradNormMeter().update(model.parameters())
    assert float(norm) == pytest.approx(expected, rel=1e-6)
    assert float(norm) == pytest.approx(float(torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)), rel=1e-6)


def test_no_sync_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model_with_grads(1)
    seen = []
    meter = GradNormMeter(sink=seen.append)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("update() copied a value to the host")

    for name in ("item", "tolist", "__float__", "__bool__", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for _ in range(3):
        meter.update(model.parameters())
    monkeypatch.undo()
    assert len(seen) == 3 and all(isinstance(t, torch.Tensor) and t.dim() == 0 for t in seen)
    assert meter.reading().steps == 3  # read only here


def test_median_of_the_run_so_far() -> None:
    meter = GradNormMeter()
    param = torch.nn.Parameter(torch.zeros(4))
    norms = [0.5 * 1.01**i for i in range(301)] + [1e6, math.nan, math.inf]  # one explosion, two non-finite
    for value in norms:
        param.grad = torch.tensor([value, 0.0, 0.0, 0.0])
        meter.update([param])
    reading = meter.reading()
    finite = sorted(v for v in norms if math.isfinite(v))
    true_median = finite[len(finite) // 2]
    assert reading.steps == len(norms) and math.isinf(reading.last)
    assert abs(math.log2(reading.median / true_median)) <= 1 / 16  # one bin: 2**(1/16)


def test_record_takes_a_norm_computed_elsewhere() -> None:
    meter = GradNormMeter()
    for value in (1.0, 2.0, 3.0, 100.0, 4.0):
        meter.record(value)
    reading = meter.reading()
    assert reading.last == 4.0 and reading.steps == 5
    assert abs(math.log2(reading.median / 3.0)) <= 1 / 16


def test_a_resumed_meter_keeps_its_median() -> None:
    meter = GradNormMeter()
    for value in (1.0, 1.1, 1.2, 50.0):
        meter.record(value)
    resumed = GradNormMeter()
    resumed.load_state_dict(meter.state_dict())
    assert resumed.reading() == meter.reading()


def test_tracker_grad_norm_logs_a_line_and_needs_the_optimizer(tmp_path: Path) -> None:
    import curvewatch

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="pass optimizer= too"):
        curvewatch.RunTracker("gn", root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db", serve=False, grad_norm=True)
    with curvewatch.RunTracker("gn", root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db", serve=False,
                               grad_norm=True, optimizer=opt, best="train_loss") as run:
        x, y = torch.randn(32, 3), torch.randn(32, 1)
        norms = []
        for _ in range(5):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)))
            opt.step()
            run.log(train_loss=loss.detach())
        run.epoch_end(1)
        doc = run.recorder.snapshot()
        line = next(li for chart in doc["charts"] for li in chart["lines"] if li["metric"] == "grad_norm")
        assert line["x"] == [1, 2, 3, 4, 5]  # the step the loop logs next
        assert line["y"] == pytest.approx(norms, rel=1e-5)
        assert run.grad_norm.reading().steps == 5
        run.finish(model)
