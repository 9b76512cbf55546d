"""curvewatch trainers: sales data, four forecasters (MLSTM, KAN, TCN, Transformer), one training loop,
a manager that archives and exposes every run, and a tracker for users' own training loops."""

from ._constants import AGGREGATIONS, EPOCH_METRICS, GLOBAL_SCOPES, MODEL_TYPES, MODES, STEP_METRICS
from .checkpoint import CheckpointPaths, load_checkpoint
from .config import TrainConfig
from .data import SalesData, SeriesSpec, generate_sales, load_sales_csv, make_windows, select_series
from .early_stopping import EarlyStoppingState, early_stopping_decision
from .errors import SalesDataError, TrainerInputError
from .loop import EpochResult, FitResult, fit
from .manager import TrainingManager, TrainOutcome
from .models import build_model, describe_models
from .predict import Forecast, forecast, load_version_model
from .recording import make_recorder
from .request import TrainRequest, prepare
from .tracker import RunTracker

__all__ = [
    "AGGREGATIONS",
    "EPOCH_METRICS",
    "GLOBAL_SCOPES",
    "MODEL_TYPES",
    "MODES",
    "STEP_METRICS",
    "CheckpointPaths",
    "EarlyStoppingState",
    "EpochResult",
    "FitResult",
    "Forecast",
    "RunTracker",
    "SalesData",
    "SalesDataError",
    "SeriesSpec",
    "TrainConfig",
    "TrainOutcome",
    "TrainRequest",
    "TrainerInputError",
    "TrainingManager",
    "build_model",
    "describe_models",
    "early_stopping_decision",
    "fit",
    "forecast",
    "generate_sales",
    "load_checkpoint",
    "load_sales_csv",
    "load_version_model",
    "make_recorder",
    "make_windows",
    "prepare",
    "select_series",
]
