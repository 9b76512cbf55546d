"""curvewatch trainers: sales data, four forecasters (MLSTM, KAN, TCN, Transformer), one training loop and
a manager that archives and exposes every run. (For your own training loop: ``curvewatch.RunTracker``.)

The public names below are imported on first use (PEP 562), so ``trainers._constants`` can be read
(e.g. by the ``curvewatch`` command line, for its help text) without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# submodule -> the public names it defines
_EXPORTS: dict[str, tuple[str, ...]] = {
    "._constants": ("AGGREGATIONS", "EPOCH_METRICS", "GLOBAL_SCOPES", "MODEL_TYPES", "MODES", "STEP_METRICS"),
    ".checkpoint": ("CheckpointPaths", "load_checkpoint"),
    ".config": ("TrainConfig",),
    ".data": ("SalesData", "SeriesSpec", "generate_sales", "load_sales_csv", "make_windows", "select_series"),
    ".early_stopping": ("EarlyStoppingState", "early_stopping_decision"),
    ".errors": ("SalesDataError", "TrainerInputError"),
    ".loop": ("EpochResult", "FitResult", "fit"),
    ".manager": ("TrainingManager", "TrainOutcome"),
    ".models": ("build_model", "describe_models"),
    ".predict": ("Forecast", "forecast", "load_version_model"),
    ".recording": ("make_recorder",),
    ".request": ("TrainRequest", "prepare"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'trainers' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module, __name__), name)
    except ModuleNotFoundError as exc:  # the trainers extra is not installed: a sentence naming it
        from curvewatch.extras import MissingExtraError

        error = MissingExtraError.of(exc, f"curvewatch.trainers.{name}")
        if error is exc:
            raise
        raise error from exc
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
