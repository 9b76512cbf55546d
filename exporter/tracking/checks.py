"""The checks ``RunTracker`` makes once, when the first epoch is over, instead of at ``finish()``.

    verdict = first_epoch_verdict(best="val_accuracy", mode="max", logged={"val_acc", "train_loss"}, ...)
    verdict.error      # "best='val_accuracy' was never logged in epoch 1; the logged metrics are: ..."
    verdict.warnings   # a chart naming a metric never logged, a mode against the metric's family, ...

A pure decision: it returns the reasons; the tracker raises or logs them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

from .charts import family_of

__all__ = ["EXPECTED_MODES", "Verdict", "first_epoch_verdict"]

# the mode a metric's automatic family implies; a best metric of another family has no expected mode
EXPECTED_MODES = {"loss": "min", "accuracy": "max"}
_EXTREME = {"min": "lowest", "max": "highest"}


class Verdict(NamedTuple):
    """``error``: why the run cannot give a best point (None: it can); ``warnings``: sentences worth a look."""

    error: str | None
    warnings: tuple[str, ...]


def first_epoch_verdict(*, best: str, mode: str, logged: Collection[str], charts: Mapping[str, Collection[str]],
                        checkpoint_every: int, saves_checkpoints: bool, epochs: int | None,
                        epoch: int) -> Verdict:
    """What the end of the first epoch (``epoch``) says about the run's arguments."""
    names = ", ".join(sorted(logged)) or "none"
    error = None
    if best not in logged:
        error = (f"best={best!r} was never logged in epoch {epoch}; the logged metrics are: {names} "
                 "(log it, or pass best= one of those).")
    warnings = []
    family = family_of(best)
    expected = EXPECTED_MODES.get(family.chart) if family is not None else None
    if expected is not None and mode != expected:
        warnings.append(f"mode={mode!r} keeps the {_EXTREME[mode]} {best!r}, but its name says {family.chart}, "
                        f"usually best at its {_EXTREME[expected]}; pass mode={expected!r} if that is meant.")
    for chart, metrics in charts.items():
        unseen = sorted(set(metrics) - set(logged))
        if unseen:
            warnings.append(f"chart {chart!r} names {', '.join(map(repr, unseen))}, never logged in epoch {epoch}; "
                            f"the logged metrics are: {names}.")
    if checkpoint_every and not saves_checkpoints:
        warnings.append(f"checkpoint_every={checkpoint_every} can never save a checkpoint: epoch_end got no model "
                        "(pass it to RunTracker(model=...) or to epoch_end).")
    elif checkpoint_every and epochs is not None and checkpoint_every > epochs:
        warnings.append(f"checkpoint_every={checkpoint_every} can never trigger in a run of epochs={epochs}; "
                        f"pass a value from 1 to {epochs}.")
    return Verdict(error, tuple(warnings))
