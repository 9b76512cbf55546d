"""The four forecasters, each ``(x (batch, L, F), future (batch, H, F - 1)) -> (batch, H)``, and ``build_model``."""

from .kan import KANForecaster, KANLinear
from .mlstm import MLSTMForecaster
from .registry import MODEL_CLASSES, build_model, check_model_type, describe_models
from .tcn import TCNForecaster
from .transformer import TransformerForecaster

__all__ = [
    "MODEL_CLASSES",
    "KANForecaster",
    "KANLinear",
    "MLSTMForecaster",
    "TCNForecaster",
    "TransformerForecaster",
    "build_model",
    "check_model_type",
    "describe_models",
]
