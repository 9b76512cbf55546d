"""What ``RunTracker`` adds to a version's ``metadata.json``: hyperparameters, the best-metric choice and
the run's provenance."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["jsonable", "run_metadata"]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: numbers, strings, lists and dicts as they are (tensors and numpy values
    via ``tolist``), paths and anything else as ``str``; non-finite floats are kept for the archive's encoder."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value  # NaN/inf: the archive writes them as "NaN"/"Infinity"
    if hasattr(value, "tolist") and not isinstance(value, (bytes, bytearray)):
        return jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def run_metadata(tracker: Any) -> dict[str, Any]:
    """``hparams``, ``tracking`` (best metric, mode, best epoch and value), ``resumed_from`` (the run, version,
    checkpoint, epoch and step a resumed run continued from; None for a fresh run) and ``provenance``."""
    from curvewatch.provenance import PROVENANCE_KEY, provenance

    return {
        "hparams": dict(tracker.hparams),
        "tracking": {"best": tracker.best, "mode": tracker.mode, "best_epoch": tracker.best_epoch,
                     "best_value": tracker.best_value, "epochs": tracker.epoch, "global_step": tracker.global_step},
        "resumed_from": tracker.resumed,
        PROVENANCE_KEY: provenance(data_files=tracker.data_files, resumed_from=tracker.resumed_from),
    }
