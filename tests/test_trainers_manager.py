"""TrainingManager: a failed run or commit raises its own error, and the version is left as it really is."""

from __future__ import annotations

import json

import pytest
from curvewatch.archive import ModelArchive
from curvewatch.trainers import SeriesSpec, TrainConfig, TrainingManager, TrainRequest, main_job


class RegistryDown(RuntimeError):
    pass


def _request() -> TrainRequest:
    return TrainRequest("tcn", SeriesSpec("product", product="P001"),
                        TrainConfig(epochs=1, checkpoint_every=0, device="cpu"), lookback=14, horizon=3,
                        model_params={"channels": 8, "levels": 2}, builtin=dict(main_job.QUICK_DATA))


def _fail_at(archive: ModelArchive, stage: str) -> None:
    def hook(current: str) -> None:
        if current == stage:
            raise RegistryDown(f"registry down at {stage}")

    archive._on_stage = hook


def test_failed_commit_raises_its_own_error_after_the_version_was_marked_complete(tmp_path):
    with ModelArchive(tmp_path / "saved_models") as archive:
        _fail_at(archive, "index")  # after mark_complete: the version can no longer be marked failed
        manager = TrainingManager(archive=archive, serve=False, quiet=True)
        with pytest.raises(RegistryDown, match="registry down at index") as caught:
            manager.train(_request())
        notes = "\n".join(getattr(caught.value, "__notes__", []))
        assert "product_P001_all_tcn-v1 could not be marked failed (VersionStateError:" in notes
        assert "curvewatch versions rebuild" in notes
        path = archive.root / "product" / "P001_all" / "tcn" / "v1"
        assert json.loads((path / "status.json").read_text())["state"] == "complete"
        archive.rebuild()
        assert archive.get("product_P001_all_tcn").status == "complete" and archive.verify("product_P001_all_tcn") == []


def test_failed_commit_before_the_mark_marks_the_version_failed(tmp_path):
    with ModelArchive(tmp_path / "saved_models") as archive:
        _fail_at(archive, "manifest")
        manager = TrainingManager(archive=archive, serve=False, quiet=True)
        with pytest.raises(RegistryDown) as caught:
            manager.train(_request())
        assert not getattr(caught.value, "__notes__", [])
        assert [r.status for r in archive.list()] == ["failed"]
