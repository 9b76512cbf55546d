"""``build_model``: one place that maps a model type name to its class and its size presets."""

from __future__ import annotations

from torch import nn

from .._constants import MODEL_TYPES
from ..errors import TrainerInputError
from .kan import KANForecaster
from .mlstm import MLSTMForecaster
from .tcn import TCNForecaster
from .transformer import TransformerForecaster

__all__ = ["MODEL_CLASSES", "build_model", "check_model_type", "describe_models"]

MODEL_CLASSES: dict[str, type[nn.Module]] = {
    "mlstm": MLSTMForecaster,
    "kan": KANForecaster,
    "tcn": TCNForecaster,
    "transformer": TransformerForecaster,
}
assert tuple(MODEL_CLASSES) == MODEL_TYPES


def check_model_type(model_type: str) -> str:
    """``model_type`` if known, else ``TrainerInputError`` listing the valid names."""
    if model_type not in MODEL_CLASSES:
        raise TrainerInputError(f"Unknown model {model_type!r}; use one of {', '.join(MODEL_TYPES)}.")
    return model_type


def build_model(model_type: str, n_features: int, lookback: int, horizon: int, **params) -> nn.Module:
    """A fresh ``model_type`` forecaster ``(x (batch, lookback, n_features), future (batch, horizon,
    n_features - 1)) -> (batch, horizon)``: the look-back window and the forecast days' known features.

    ``params`` are the class's size arguments (``d_model``, ``hidden``, ``channels``, ...); an unknown one
    raises ``TrainerInputError``.
    """
    cls = MODEL_CLASSES[check_model_type(model_type)]
    try:
        return cls(n_features=n_features, lookback=lookback, horizon=horizon, **params)
    except TypeError as exc:
        raise TrainerInputError(f"Bad parameters for model {model_type!r}: {exc}.") from None


_SUMMARIES = {
    "mlstm": "mLSTM blocks of xLSTM (Beck et al., 2024), from the xlstm package",
    "kan": "Kolmogorov-Arnold Network with B-spline layers (Liu et al., 2024; efficient-KAN form)",
    "tcn": "causal dilated Temporal Convolutional Network (Bai et al., 2018), from pytorch-tcn",
    "transformer": "encoder-only Transformer (Vaswani et al., 2017), from torch.nn",
}


def describe_models() -> list[tuple[str, str]]:
    """``(name, one-line description)`` for each model type, for ``curvewatch models``."""
    return [(name, _SUMMARIES[name]) for name in MODEL_CLASSES]
