"""RunTracker: a user's own loop gets the recording, the endpoint and a committed version."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import torch
from curvewatch.archive import ModelArchive, ModelKey


def test_own_loop_with_tracker_commits_a_verifiable_version(tmp_path):
    from curvewatch.trainers import RunTracker

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    key = ModelKey.product("P001", model_type="linear")
    with RunTracker(key, root=tmp_path / "saved_models", checkpoint_every=2) as run:
        assert requests.get(run.url, timeout=5).status_code == 200
        for epoch in range(1, 5):
            for i in range(0, 64, 16):
                loss = torch.nn.functional.mse_loss(model(x[i : i + 16]), y[i : i + 16])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.step(loss.detach(), lr=0.1)
            with torch.no_grad():
                val = torch.nn.functional.mse_loss(model(x), y)
            run.epoch_end(epoch, model, val_loss=val, optimizer=optimizer, val_mae=float(val.sqrt()))
        body = requests.get(run.url, timeout=5).text
        assert 'metric="train_loss"' in body and 'curvewatch_step{' in body
        run.finish(model, metadata={"hidden": 0})
    archive = ModelArchive(tmp_path / "saved_models")
    assert archive.verify("product_P001_all_linear") == []
    record = archive.get("product_P001_all_linear")
    assert record.metrics_summary["best_epoch"] == run.best_epoch
    assert {p.name for p in record.path.glob("checkpoint_*")} == {
        "checkpoint_best.pth", "checkpoint_epoch_2.pth", "checkpoint_epoch_4.pth"}


def test_exception_in_tracker_marks_the_version_failed(tmp_path):
    from curvewatch.trainers import RunTracker

    key = ModelKey.store("S001", model_type="linear")
    with pytest.raises(RuntimeError, match="boom"):
        with RunTracker(key, root=tmp_path / "saved_models", serve=False):
            raise RuntimeError("boom")
    archive = ModelArchive(tmp_path / "saved_models")
    assert [r.status for r in archive.list()] == ["failed"]


def test_tracker_rejects_unknown_epoch_metrics(tmp_path):
    from curvewatch.trainers import RunTracker

    with RunTracker(ModelKey.store("S002", model_type="linear"), root=tmp_path / "m", serve=False) as run:
        with pytest.raises(ValueError, match="Unknown epoch metric"):
            run.epoch_end(1, val_loss=1.0, accuracy=0.5)


def test_tracker_left_without_finish_marks_the_version_failed(tmp_path, caplog):
    from curvewatch.trainers import RunTracker

    key = ModelKey.store("S003", model_type="linear")
    with caplog.at_level(logging.WARNING, logger="curvewatch.trainers"):
        with RunTracker(key, root=tmp_path / "saved_models", serve=False) as run:
            run.step(1.0)
    archive = ModelArchive(tmp_path / "saved_models")
    assert [r.status for r in archive.list()] == ["failed"]
    status = json.loads((run.handle.path / "status.json").read_text())
    assert status["reason"] == "finish() was not called"
    assert any("without run.finish(model)" in r.getMessage() for r in caplog.records)
    archive.close()


def test_tracker_keeps_the_error_of_a_finish_that_failed_after_the_mark(tmp_path):
    from curvewatch.trainers import RunTracker

    class RegistryDown(RuntimeError):
        pass

    def down(stage):
        if stage == "index":
            raise RegistryDown("registry down")

    archive = ModelArchive(tmp_path / "saved_models")
    archive._on_stage = down
    with pytest.raises(RegistryDown, match="registry down") as caught:
        with RunTracker(ModelKey.store("S004", model_type="linear"), archive=archive, serve=False) as run:
            run.epoch_end(1, val_loss=0.5)
            run.finish(torch.nn.Linear(2, 1))
    assert any("could not be marked failed" in note for note in caught.value.__notes__)
    archive.close()
