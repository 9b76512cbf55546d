"""The one training loop: epoch means, resume equivalence, early stopping, the best checkpoint, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from curvewatch.recorder import encode_document
from curvewatch.trainers import (
    CheckpointPaths,
    EarlyStoppingState,
    TrainConfig,
    build_model,
    early_stopping_decision,
    fit,
    load_checkpoint,
    make_recorder,
)
from curvewatch.trainers.data import SeriesSpec, generate_sales, make_windows, select_series
from curvewatch.trainers.metrics import RegressionSums

TCN = {"channels": 8, "levels": 2}


@pytest.fixture(scope="module")
def windows():
    data = generate_sales(stores=2, products=2, days=150, seed=3)
    return make_windows(select_series(data, SeriesSpec("product", product="P001")), lookback=14, horizon=3)


def _model(windows, seed=0, model_type="tcn", params=TCN):
    torch.manual_seed(seed)
    return build_model(model_type, windows.n_features, 14, 3, **params)


def _line(doc, metric):
    for chart in doc["charts"]:
        for line in chart["lines"]:
            if line["metric"] == metric:
                return dict(zip(line["x"], line["y"], strict=True))
    raise AssertionError(f"no line {metric}")


def test_train_mse_is_the_mean_of_the_epochs_batch_losses(windows):
    recorder = make_recorder(budget=10_000)
    config = TrainConfig(epochs=3, batch_size=16, device="cpu")
    result = fit(_model(windows), windows, config, recorder=recorder)
    doc = recorder.finalize()
    losses, train_mse = _line(doc, "train_loss"), _line(doc, "train_mse")
    batches = math.ceil(len(windows.train_x) / 16)
    assert len(losses) == 3 * batches and sorted(train_mse) == [batches, 2 * batches, 3 * batches]
    for epoch, h in enumerate(result.history, start=1):
        batch_losses = [losses[s] for s in range((epoch - 1) * batches + 1, epoch * batches + 1)]
        assert h.train_mse == pytest.approx(np.mean(batch_losses), rel=1e-6)
        assert train_mse[h.step] == pytest.approx(h.train_mse) and h.train_mse != pytest.approx(batch_losses[-1])


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("model_type", ["tcn", "transformer"])
def test_resumed_run_matches_uninterrupted_run(windows, tmp_path, model_type):
    params = TCN if model_type == "tcn" else {"d_model": 16, "num_layers": 1, "dropout": 0.1}
    config = TrainConfig(epochs=5, batch_size=16, checkpoint_every=1, scheduler="cosine", device="cpu", seed=7)
    full = make_recorder()
    fit(_model(windows, 0, model_type, params), windows, config, recorder=full,
        paths=CheckpointPaths(tmp_path / "a"))

    def stop_after_3(epoch_result, _):
        if epoch_result.epoch == 3:
            raise _Interrupt

    first = make_recorder()
    with pytest.raises(_Interrupt):
        fit(_model(windows, 0, model_type, params), windows, config, recorder=first,
            paths=CheckpointPaths(tmp_path / "b"), on_epoch_end=[stop_after_3])
    assert not (tmp_path / "b" / "model.pth").exists()
    resumed = make_recorder()
    result = fit(_model(windows, 99, model_type, params), windows, config, recorder=resumed,
                 paths=CheckpointPaths(tmp_path / "b"), resume_from=tmp_path / "b" / "checkpoint_epoch_3.pth")
    assert [h.epoch for h in result.history] == [1, 2, 3, 4, 5]
    a = torch.load(tmp_path / "a" / "model.pth", weights_only=True)
    b = torch.load(tmp_path / "b" / "model.pth", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    last_a = load_checkpoint(tmp_path / "a" / "checkpoint_epoch_5.pth")["model"]
    last_b = load_checkpoint(tmp_path / "b" / "checkpoint_epoch_5.pth")["model"]
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)
    assert encode_document(full.finalize()) == encode_document(resumed.finalize())


@pytest.mark.parametrize(("losses", "patience", "min_delta", "expected_stop_epoch"), [
    ([1.0, 0.9, 0.8, 0.7, 0.6], 2, 0.0, None),          # always improving
    ([1.0, 1.0, 1.0, 1.0], 2, 0.0, 3),                  # equal is not better
    ([1.0, 0.9, 0.95, 0.92, 0.91], 3, 0.0, 5),
    ([1.0, 0.99, 0.98, 0.97], 2, 0.05, 3),              # improvements below min_delta do not count
    ([1.0, 0.5, 0.6, 0.4, 0.45, 0.46], 2, 0.0, 6),      # a new best resets the wait
    ([1.0, float("nan"), float("nan")], 2, 0.0, 3),     # NaN is never an improvement
    ([float("nan"), 1.0, 1.1], 1, 0.0, 1),              # ... not even as the first score
    ([1.0, 2.0, 3.0, 4.0], 0, 0.0, None),               # patience 0 never stops
])
def test_early_stopping_stops_at_the_expected_epoch(losses, patience, min_delta, expected_stop_epoch):
    state, stopped_at = EarlyStoppingState(), None
    for epoch, loss in enumerate(losses, start=1):
        state, stop, reason = early_stopping_decision(state, loss, patience=patience, min_delta=min_delta)
        assert isinstance(reason, str) and reason
        if stop:
            stopped_at = epoch
            break
    assert stopped_at == expected_stop_epoch


def test_early_stopping_rejects_bad_mode():
    with pytest.raises(ValueError, match="`mode` can be min, max, got 'up'"):
        early_stopping_decision(EarlyStoppingState(), 1.0, patience=1, mode="up")


def test_loop_stops_early_when_validation_stalls(windows):
    config = TrainConfig(epochs=10, lr=1e-12, scheduler="none", patience=2, min_delta=1e-3, device="cpu")
    result = fit(_model(windows), windows, config)
    assert result.stopped_early and result.epochs_run == 3 and "early stopping at epoch 3" in result.stop_reason


def test_best_checkpoint_is_the_lowest_validation_epoch_and_the_recorders_best_point(windows, tmp_path):
    recorder = make_recorder()
    config = TrainConfig(epochs=8, batch_size=16, lr=0.05, optimizer="sgd", scheduler="none", patience=0,
                         checkpoint_every=0, device="cpu")
    model, last_weights = _model(windows), {}

    def diverge_after_epoch_4(epoch_result, _):
        # As a diverging run would: after epoch 4 the weights blow up, so every later epoch validates
        # worse and the best epoch is guaranteed to come before the last one.
        if epoch_result.epoch == 4:
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.mul_(50)
        last_weights.update({k: v.detach().clone() for k, v in model.state_dict().items()})

    result = fit(model, windows, config, recorder=recorder, paths=CheckpointPaths(tmp_path),
                 on_epoch_end=[diverge_after_epoch_4])
    val = [h.val_loss for h in result.history]
    best_epoch = int(np.nanargmin(val)) + 1
    assert best_epoch <= 4 < result.epochs_run == 8
    checkpoint = load_checkpoint(tmp_path / "checkpoint_best.pth")
    assert checkpoint["epoch"] == best_epoch == result.best_epoch
    assert recorder.finalize()["best"]["step"] == result.history[best_epoch - 1].step
    final = torch.load(tmp_path / "model.pth", weights_only=True)  # restore_best: model.pth = best weights
    assert all(torch.equal(final[k], checkpoint["model"][k]) for k in final)
    assert not all(torch.equal(final[k], last_weights[k]) for k in final)  # ... not the last epoch's
    assert not list(tmp_path.glob("checkpoint_epoch_*.pth"))


def test_validation_metrics_are_safe_for_zero_sales():
    sums = RegressionSums()
    sums.update(torch.tensor([[1.0, 2.0, 5.0]]), torch.tensor([[0.0, 2.0, 4.0]]))
    m = {k: float(v) for k, v in sums.metrics().items()}
    assert m["mse"] == pytest.approx(2 / 3) and m["rmse"] == pytest.approx(math.sqrt(2 / 3))
    assert m["mae"] == pytest.approx(2 / 3)
    assert m["mape"] == pytest.approx(100 * (1 / 1 + 0 + 1 / 4) / 3)  # zero sales: |e| / MAPE_FLOOR
    y = np.array([0.0, 2.0, 4.0])
    assert m["r2"] == pytest.approx(1 - 2 / ((y - y.mean()) ** 2).sum())
