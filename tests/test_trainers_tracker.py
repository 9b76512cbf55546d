"""RunTracker: a user's own loop gets the recording, the endpoint and a committed version."""

from __future__ import annotations

import pytest
import requests
import torch

from exporter.archive import ModelArchive, ModelKey


def test_own_loop_with_tracker_commits_a_verifiable_version(tmp_path):
    from trainers import RunTracker

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
    from trainers import RunTracker

    key = ModelKey.store("S001", model_type="linear")
    with pytest.raises(RuntimeError, match="boom"):
        with RunTracker(key, root=tmp_path / "saved_models", serve=False):
            raise RuntimeError("boom")
    archive = ModelArchive(tmp_path / "saved_models")
    assert [r.status for r in archive.list()] == ["failed"]


def test_tracker_rejects_unknown_epoch_metrics(tmp_path):
    from trainers import RunTracker

    with RunTracker(ModelKey.store("S002", model_type="linear"), root=tmp_path / "m", serve=False) as run:
        with pytest.raises(ValueError, match="Unknown epoch metric"):
            run.epoch_end(1, val_loss=1.0, accuracy=0.5)
