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
    """A clean weekly pattern with a little noise: any working forecaster learns it in a few epochs."""
    days = 200
    dates = np.datetime64("2024-01-01") + np.arange(days)
    rng = np.random.default_rng(0)
    sales = 50 + 20 * np.sin(2 * np.pi * np.arange(days) / 7) + rng.normal(0, 1, days)
    series = Series(dates=dates, sales=sales, features=np.zeros((days, 0)), feature_names=())
    return make_windows(series, lookback=14, horizon=3)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_shape_contract(model_type):
    model = build_model(model_type, n_features=5, lookback=14, horizon=3, **TINY[model_type])
    assert model(torch.randn(6, 14, 5)).shape == (6, 3)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_a_few_epochs_lower_the_validation_loss(model_type, easy):
    torch.manual_seed(0)
    model = build_model(model_type, easy.n_features, 14, 3, **TINY[model_type])
    config = TrainConfig(epochs=8, batch_size=16, lr=3e-3, scheduler="none", patience=0, device="cpu")
    history = fit(model, easy, config).history
    assert history[-1].val_loss < 0.5 * history[0].val_loss, [h.val_loss for h in history]


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_save_load_gives_identical_predictions(model_type, tmp_path):
    torch.manual_seed(1)
    model = build_model(model_type, 5, 14, 3, **TINY[model_type]).eval()
    torch.save(model.state_dict(), tmp_path / "model.pth")
    torch.manual_seed(2)  # a differently initialised copy, then the saved weights
    clone = build_model(model_type, 5, 14, 3, **TINY[model_type]).eval()
    clone.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    x = torch.randn(4, 14, 5)
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


def test_unknown_model_type_lists_the_choices():
    with pytest.raises(TrainerInputError, match="Unknown model 'lstm'; use one of mlstm, kan, tcn, transformer"):
        build_model("lstm", 5, 14, 3)


def test_unknown_model_parameter_is_a_clear_error():
    with pytest.raises(TrainerInputError, match="Bad parameters for model 'kan'"):
        build_model("kan", 5, 14, 3, depth=3)
