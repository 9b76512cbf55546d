"""The four forecasters: shapes, learning an easy series, save → load → identical predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from curvewatch.trainers import MODEL_TYPES, TrainConfig, TrainerInputError, build_model, fit
from curvewatch.trainers.data import Series, make_windows

TINY = {"mlstm": {"d_model": 16, "num_blocks": 1}, "kan": {"hidden": 8}, "tcn": {"channels": 8, "levels": 2},
        "transformer": {"d_model": 16, "num_layers": 1, "dim_feedforward": 32}}


@pytest.fixture(scope="module")
def easy():
    """A clean weekly pattern, lifted on random promotion days that are known in advance, with a little
    noise: the weekday baseline misses the promotions; any working forecaster learns them in a few epochs."""
    days = 200
    dates = np.datetime64("2024-01-01") + np.arange(days)
    rng = np.random.default_rng(0)
    promotion = (rng.random(days) < 0.2).astype(float)
    sales = 50 + 20 * np.sin(2 * np.pi * np.arange(days) / 7) + 40 * promotion + rng.normal(0, 1, days)
    series = Series(dates=dates, sales=sales, features=promotion[:, None], feature_names=("promotion",))
    return make_windows(series, lookback=14, horizon=3)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_shape_contract(model_type):
    model = build_model(model_type, n_features=5, lookback=14, horizon=3, **TINY[model_type])
    assert model(torch.randn(6, 14, 5), torch.randn(6, 3, 4)).shape == (6, 3)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_an_untrained_model_forecasts_the_4_week_weekday_mean_of_its_look_back(model_type):
    """Each network corrects a seasonal skip and starts from zero: before training it is that baseline."""
    x = torch.randn(2, 28, 5)
    model = build_model(model_type, n_features=5, lookback=28, horizon=8, **TINY[model_type]).eval()
    with torch.no_grad():
        forecast = model(x, torch.randn(2, 8, 4))
    expected = torch.stack([x[:, [21 + h, 14 + h, 7 + h, h], 0].mean(dim=1) for h in range(7)], dim=1)
    assert torch.allclose(forecast[:, :7], expected, atol=1e-6)
    assert torch.allclose(forecast[:, 7], expected[:, 0], atol=1e-6)  # day 8: the same weekday as day 1


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_a_few_epochs_learn_the_known_future_promotions_the_baseline_misses(model_type, easy):
    torch.manual_seed(0)
    model = build_model(model_type, easy.n_features, 14, 3, **TINY[model_type])
    config = TrainConfig(epochs=8, batch_size=16, lr=3e-3, scheduler="none", patience=0, device="cpu")
    history = fit(model, easy, config).history
    baseline_mae = float((easy.val_baselines["weekday_mean_4w"] - easy.val_sales).abs().mean())
    assert history[-1].val_mae < 0.5 * baseline_mae, ([h.val_mae for h in history], baseline_mae)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_save_load_gives_identical_predictions(model_type, tmp_path):
    torch.manual_seed(1)
    model = build_model(model_type, 5, 14, 3, **TINY[model_type]).eval()
    torch.save(model.state_dict(), tmp_path / "model.pth")
    torch.manual_seed(2)  # a differently initialised copy, then the saved weights
    clone = build_model(model_type, 5, 14, 3, **TINY[model_type]).eval()
    clone.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    x, future = torch.randn(4, 14, 5), torch.randn(4, 3, 4)
    with torch.no_grad():
        assert torch.equal(model(x, future), clone(x, future))


def test_unknown_model_type_lists_the_choices():
    with pytest.raises(TrainerInputError, match="Unknown model 'lstm'; use one of mlstm, kan, tcn, transformer"):
        build_model("lstm", 5, 14, 3)


def test_unknown_model_parameter_is_a_clear_error():
    with pytest.raises(TrainerInputError, match="Bad parameters for model 'kan'"):
        build_model("kan", 5, 14, 3, depth=3)
