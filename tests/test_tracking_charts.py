"""RunTracker's charts: the user's declared charts, else one automatic chart per metric family."""

from __future__ import annotations

import json

import curvewatch
import pytest
import torch
from curvewatch.tracking import Chart, family_of


@pytest.mark.parametrize(
    ("metric", "family"),
    [
        ("train_loss", "loss"), ("val_loss", "loss"), ("loss", "loss"), ("val/loss", "loss"), ("nll-loss", "loss"),
        ("val_acc", "accuracy"), ("train_accuracy", "accuracy"), ("top1.acc", "accuracy"),
        ("lr", "lr"), ("lr_group1", "lr"), ("learning_rate", "lr"),
        ("glossary", None), ("accumulate", None), ("val_f1", None), ("grad_norm", None), ("clr", None),
    ],
)
def test_metric_families_are_decided_by_whole_words(metric: str, family: str | None) -> None:
    found = family_of(metric)
    assert (found.chart if found else None) == family


def charts_of(record) -> dict[str, dict]:
    doc = json.loads((record.path / "curves.json").read_text())
    return {c["name"]: {**c, "metrics": [line["metric"] for line in c["lines"]]} for c in doc["charts"]}


def test_automatic_charts_group_each_metric_family(tmp_path) -> None:
    with curvewatch.RunTracker("auto", root=tmp_path / "m", best="val_acc", mode="max", serve=False) as run:
        run.log(train_loss=2.0, lr=0.1)
        run.log(train_loss=1.5, lr=0.05, grad_norm=3.0)
        run.epoch_end(1, val_loss=1.2, val_acc=0.5, train_acc=0.6)
        record = run.finish(torch.nn.Linear(1, 1))
    charts = charts_of(record)
    assert charts["loss"]["metrics"] == ["train_loss", "val_loss"] and charts["loss"]["title"] == "Loss"
    assert charts["accuracy"]["metrics"] == ["val_acc", "train_acc"] and charts["accuracy"]["title"] == "Accuracy"
    assert charts["lr"]["yscale"] == "log" and charts["lr"]["title"] == "Learning rate"
    assert charts["grad_norm"]["metrics"] == ["grad_norm"]
    assert not any("scaled MSE" in c["title"] for c in charts.values())


def test_declared_charts_keep_their_title_labels_and_scale(tmp_path) -> None:
    declared = [
        Chart("ce", ["train_loss", "val_loss"], title="Cross-entropy", ylabel="nats", yscale="log",
              labels={"train_loss": "train (batch)"}),
        {"name": "quality", "metrics": ["val_acc"], "title": "Validation accuracy", "ylabel": "%"},
    ]
    with curvewatch.RunTracker("declared", root=tmp_path / "m", charts=declared, serve=False) as run:
        run.log(train_loss=2.0, aux_loss=0.3)
        run.epoch_end(1, val_loss=1.0, val_acc=0.4)
        record = run.finish(torch.nn.Linear(1, 1))
    charts = charts_of(record)
    assert charts["ce"]["title"] == "Cross-entropy" and charts["ce"]["yscale"] == "log"
    assert charts["ce"]["ylabel"] == "nats" and charts["ce"]["lines"][0]["label"] == "train (batch)"
    assert charts["ce"]["metrics"] == ["train_loss", "val_loss"]
    assert charts["quality"]["metrics"] == ["val_acc"] and charts["quality"]["ylabel"] == "%"
    assert charts["loss"]["metrics"] == ["aux_loss"]  # undeclared: its family's automatic chart


def test_a_metric_keeps_its_live_chart_label_for_the_whole_run(tmp_path) -> None:
    with curvewatch.RunTracker("live", root=tmp_path / "m", serve=False) as run:
        run.log(train_loss=1.0)
        before = run.recorder.live()
        run.epoch_end(1, val_loss=0.5)
        after = run.recorder.live()
        run.finish(torch.nn.Linear(1, 1))
    chart_before = {line.metric: line.chart for line in before.lines}
    chart_after = {line.metric: line.chart for line in after.lines}
    assert chart_before["train_loss"] == chart_after["train_loss"] == chart_after["val_loss"] == "loss"
