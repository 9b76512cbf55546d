"""a_best_metric_never_logged_fails_at_the_first_epoch_end: the tracker's first-epoch checks raise or warn
then, not at finish(); the pure decision (checks.first_epoch_verdict) is tested table-driven."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import curvewatch
import pytest
import torch
from curvewatch.archive import ModelArchive
from curvewatch.tracking.checks import first_epoch_verdict

LOGGED = {"perplexity", "train_loss", "val_acc", "val_loss"}


def test_a_best_metric_never_logged_fails_at_the_first_epoch_end(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    epochs_run = []
    with pytest.raises(ValueError) as raised:
        with curvewatch.RunTracker("exp", root=root, serve=False, best="val_accuracy", mode="max") as run:
            for epoch in range(1, 100):
                run.log(train_loss=1.0 / epoch)
                epochs_run.append(epoch)
                run.epoch_end(epoch, val_loss=0.5, val_acc=0.7)
    sentence = ("best='val_accuracy' was never logged in epoch 1; the logged metrics are: train_loss, val_acc, "
                "val_loss (log it, or pass best= one of those).")
    assert str(raised.value) == sentence and epochs_run == [1]  # no time spent after epoch 1
    with ModelArchive(root) as archive:
        assert [r.status for r in archive.list()] == ["failed"]
    assert json.loads((run.handle.path / "status.json").read_text())["reason"] == sentence


def test_a_best_metric_never_logged_fails_at_the_first_log_that_completes_an_epoch(tmp_path: Path) -> None:
    with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False, best="val_loss") as run:
        run.set_epoch(0)  # how an integration says where it is (Lightning counts from 0)
        run.log(train_loss=1.0)
        run.set_epoch(0)
        with pytest.raises(ValueError, match="best='val_loss' was never logged in epoch 0; the logged metrics are: "
                                             "train_loss"):
            run.set_epoch(1)
    assert run._state == "failed"


def test_checks_run_once_and_warn_at_the_first_epoch_end_not_at_finish(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="curvewatch.tracking"):
        with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False, best="val_loss", mode="max",
                                   charts=[{"name": "quality", "metrics": ["val_f1"]}], checkpoint_every=2) as run:
            run.epoch_end(1, val_loss=0.5)
            at_epoch_1 = [r.getMessage() for r in caplog.records]
            run.epoch_end(2, val_loss=0.4)
            run.finish(torch.nn.Linear(1, 1))
    assert len(at_epoch_1) == 3 and [r.getMessage() for r in caplog.records] == at_epoch_1
    assert "mode='max' keeps the highest 'val_loss'" in at_epoch_1[0]
    assert "chart 'quality' names 'val_f1', never logged in epoch 1" in at_epoch_1[1]
    assert "checkpoint_every=2 can never save a checkpoint: epoch_end got no model" in at_epoch_1[2]


@pytest.mark.parametrize(("options", "error", "warnings"), [
    ({}, None, ()),
    ({"best": "val_accuracy", "mode": "max"}, "best='val_accuracy' was never logged in epoch 1", ()),
    ({"best": "val_acc", "mode": "min"}, None, ("mode='min' keeps the lowest 'val_acc', but its name says accuracy",)),
    ({"best": "val_loss", "mode": "max"}, None, ("mode='max' keeps the highest 'val_loss'",)),
    ({"best": "perplexity", "mode": "max"}, None, ()),  # no family: no expected mode
    ({"charts": {"quality": ["val_acc", "val_f1"]}}, None, ("chart 'quality' names 'val_f1', never logged",)),
    ({"checkpoint_every": 3, "saves_checkpoints": False}, None, ("checkpoint_every=3 can never save",)),
    ({"checkpoint_every": 30, "epochs": 20}, None, ("checkpoint_every=30 can never trigger in a run of epochs=20",)),
    ({"checkpoint_every": 5, "epochs": 20}, None, ()),
])
def test_first_epoch_verdict(options: dict, error: str | None, warnings: tuple[str, ...]) -> None:
    arguments = {"best": "val_loss", "mode": "min", "logged": LOGGED, "charts": {}, "checkpoint_every": 0,
                 "saves_checkpoints": True, "epochs": None, "epoch": 1, **options}
    verdict = first_epoch_verdict(**arguments)
    assert (verdict.error is None) == (error is None) and (error is None or verdict.error.startswith(error))
    assert len(verdict.warnings) == len(warnings)
    assert all(got.startswith(want) for got, want in zip(verdict.warnings, warnings))
