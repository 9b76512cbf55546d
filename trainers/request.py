"""``TrainRequest``: one training run, and ``prepare`` — every check and all data work, before any file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ._constants import DEFAULT_TARGET_TRANSFORM
from .checkpoint import check_resumable, load_checkpoint
from .config import TrainConfig
from .data import SalesData, SeriesSpec, WindowedData, generate_sales, load_sales_csv, make_windows, select_series
from .errors import TrainerInputError
from .models import build_model, check_model_type

__all__ = ["BUILTIN_DATA", "Prepared", "TrainRequest", "load_data", "model_key", "prepare"]

BUILTIN_DATA = {"stores": 3, "products": 4, "days": 730, "seed": 0}


@dataclass(frozen=True)
class TrainRequest:
    """What to train: ``TrainRequest("mlstm", SeriesSpec("product", product="P001"), TrainConfig(epochs=50))``.

    ``data_csv`` is a sales CSV; without it the built-in generator runs with ``builtin`` (see
    ``BUILTIN_DATA``). ``model_params`` are the model's size arguments. ``resume_from`` is a checkpoint of
    an earlier run with the same request; the new version continues its curves and epochs.
    ``target_transform`` is ``log1p`` (default: train on log(1 + sales), see ``TARGET_TRANSFORMS``) or ``none``.
    """

    model_type: str
    series: SeriesSpec
    config: TrainConfig = field(default_factory=TrainConfig)
    lookback: int = 28
    horizon: int = 7
    val_fraction: float = 0.2
    model_params: dict = field(default_factory=dict)
    data_csv: str | None = None
    builtin: dict = field(default_factory=lambda: dict(BUILTIN_DATA))
    experiment: str = "default"
    resume_from: str | None = None
    verify: bool = True  # check resume_from against its version's manifest (--no-verify: False)
    target_transform: str = DEFAULT_TARGET_TRANSFORM


@dataclass
class Prepared:
    """A checked request with its data windows, a fresh (seeded) model and its archive key."""

    request: TrainRequest
    data: SalesData
    windows: WindowedData
    model: torch.nn.Module
    key: object


def load_data(request: TrainRequest) -> SalesData:
    if request.data_csv is not None:
        return load_sales_csv(request.data_csv)
    unknown = set(request.builtin) - set(BUILTIN_DATA) - {"start"}
    if unknown:
        raise TrainerInputError(f"Unknown built-in data option(s) {sorted(unknown)}; use {sorted(BUILTIN_DATA)}.")
    return generate_sales(**{**BUILTIN_DATA, **request.builtin})


def model_key(model_type: str, series: SeriesSpec):
    """The archive's ``ModelKey`` for this series (raises ``TrainerInputError`` for an id it cannot name)."""
    from curvewatch.archive import IdentifierError, ModelKey

    fields = series.key_fields()
    try:
        if series.mode == "product":
            return ModelKey.product(fields["product_id"], scope=fields["scope"], model_type=model_type)
        if series.mode == "store":
            return ModelKey.store(fields["store_id"], scope=fields["scope"], model_type=model_type)
        return ModelKey.global_(model_type=model_type, **fields)
    except IdentifierError as exc:
        raise TrainerInputError(f"{exc} It cannot name an archive directory.") from None


def prepare(request: TrainRequest, data: SalesData | None = None) -> Prepared:
    """Check everything and build data and model; creates no file or directory. Errors are
    ``TrainerInputError`` with a sentence saying what to change."""
    check_model_type(request.model_type)
    if request.resume_from is not None and not Path(request.resume_from).is_file():
        raise TrainerInputError(f"Checkpoint {request.resume_from} does not exist; pass an existing .pth file.")
    resume_state = None if request.resume_from is None else load_checkpoint(request.resume_from,
                                                                            verify=request.verify)
    key = model_key(request.model_type, request.series)
    data = load_data(request) if data is None else data
    series = select_series(data, request.series)
    windows = make_windows(series, request.lookback, request.horizon, request.val_fraction,
                           request.target_transform)
    torch.manual_seed(request.config.seed)
    model = build_model(request.model_type, windows.n_features, request.lookback, request.horizon,
                        **request.model_params)
    if resume_state is not None:  # a bad checkpoint is refused here, before a version number is used
        check_resumable(model, resume_state, request.resume_from)  # fit loads the same weights again
    return Prepared(request=request, data=data, windows=windows, model=model, key=key)
