"""RunTracker(resume=...): a run killed by SIGKILL after epoch 3 and resumed in a new process gives the
curves of a run never killed, point for point; the lineage is kept; a changed checkpoint is refused."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import curvewatch
import pytest
import torch
from curvewatch.archive import ManifestMismatchError, ModelArchive
from curvewatch.recorder import load_document

TRAINER = Path(__file__).with_name("resume_trainer.py")
KEY_DIR = "experiments/resume-demo/mlp"


def train(root: Path, mode: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TRAINER), str(root), mode, *extra], capture_output=True, text=True,
                          timeout=120)


def statuses(root: Path) -> list[tuple[int, str]]:
    with ModelArchive(root) as archive:
        return [(r.version, r.status) for r in archive.list()]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("continue_version", [False, True])
def test_resume_gives_the_curves_of_an_uninterrupted_run(tmp_path: Path, continue_version: bool) -> None:
    whole, resumed = tmp_path / "whole" / "saved_models", tmp_path / "resumed" / "saved_models"
    assert train(whole, "full").returncode == 0
    killed = train(resumed, "kill")
    assert killed.returncode == -9, killed.stderr  # a real SIGKILL, after epoch 3's checkpoint
    assert statuses(resumed) == [(1, "reserved")]
    done = train(resumed, "resume", *(["--continue"] if continue_version else []))
    assert done.returncode == 0, done.stderr
    version = 1 if continue_version else 2
    expected = load_document(whole / KEY_DIR / "v1" / "curves.json")
    got = load_document(resumed / KEY_DIR / f"v{version}" / "curves.json")
    lines = {ln["metric"]: ln for chart in got["charts"] for ln in chart["lines"]}
    assert lines["train_loss"]["points_logged"] == 6 * 6 and lines["val_acc"]["points_logged"] == 6
    assert got == expected  # every line, every point, the best point, the charts
    assert statuses(resumed) == ([(1, "complete")] if continue_version else [(1, "reserved"), (2, "complete")])
    with ModelArchive(resumed) as archive:
        assert archive.verify(KEY_DIR, version) == []


@pytest.mark.timeout(240)
def test_resume_continues_the_lineage(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    assert train(root, "kill").returncode == -9
    assert train(root, "resume").returncode == 0
    meta = json.loads((root / KEY_DIR / "v2" / "metadata.json").read_text())
    checkpoint = str(root / KEY_DIR / "v1" / "checkpoint_epoch_3.pth")
    assert meta["resumed_from"] == {"run_id": f"{KEY_DIR}-v1", "version": 1, "checkpoint": checkpoint, "epoch": 3,
                                    "global_step": 18}
    assert meta["provenance"]["resumed_from"] == checkpoint
    old_best = torch.load(root / KEY_DIR / "v1" / "checkpoint_best.pth", weights_only=True)
    new_best = torch.load(root / KEY_DIR / "v2" / "checkpoint_best.pth", weights_only=True)
    assert new_best["epoch"] >= old_best["epoch"]  # carried over, or replaced by a better epoch after 3
    assert meta["tracking"]["best_epoch"] == new_best["epoch"]


def _one_epoch(root: Path, **options) -> curvewatch.RunTracker:
    model = torch.nn.Linear(2, 1)
    with curvewatch.RunTracker("exp", root=root, serve=False, model=model, **options) as run:
        run.log(train_loss=1.0)
        run.epoch_end(1, val_loss=0.5)
        run.finish()
    return run


def test_resume_verifies_the_checkpoint_against_the_manifest(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    run = _one_epoch(root)
    best = run.handle.best_checkpoint_path
    state = torch.load(best, weights_only=True)
    state["global_step"] = 99
    torch.save(state, best)  # changed after commit
    with pytest.raises(ManifestMismatchError, match="checkpoint_best.pth was changed after commit"):
        curvewatch.RunTracker("exp", root=root, serve=False, resume="best").start()
    assert statuses(root) == [(1, "complete")]  # refused before anything was allocated


def test_resume_from_a_complete_version_restores_every_object_passed(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=64.0)
    with curvewatch.RunTracker("exp", root=root, serve=False, model=model, optimizer=optimizer, scheduler=scheduler,
                               scaler=scaler) as run:
        scaler.scale(model(torch.ones(3, 2)).sum()).backward()
        scaler.step(optimizer)
        scheduler.step()
        scaler.update(32.0)
        run.log(train_loss=1.0)
        run.epoch_end(1, val_loss=0.5)
        run.finish()
    fresh = torch.nn.Linear(2, 1)
    opt2 = torch.optim.Adam(fresh.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    scaler2 = torch.amp.GradScaler("cpu")
    with curvewatch.RunTracker("exp", root=root, serve=False, resume="best", model=fresh, optimizer=opt2,
                               scheduler=sched2, scaler=scaler2) as again:
        assert (again.start_epoch, again.global_step, again.best_value) == (2, 1, 0.5)
        assert torch.equal(fresh.weight, model.weight)
        assert opt2.state_dict()["state"][0]["step"] == 1 and sched2.last_epoch == 1
        assert scaler2.get_scale() == 32.0
        again.fail("not needed")


def test_resume_last_without_a_checkpoint_starts_fresh(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="curvewatch.tracking"):
        run = _one_epoch(tmp_path / "saved_models", resume="last")
    assert run.start_epoch == 1 and run.resumed is None
    assert any("has no checkpoint yet; starting from epoch 1" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("resume", "message"), [
    ("nowhere.pth", "is not a file; pass a checkpoint path, or one of 'last', 'best'"),
])
def test_resume_of_a_missing_checkpoint_is_a_sentence(tmp_path: Path, resume: str, message: str) -> None:
    with pytest.raises(FileNotFoundError, match=message):
        curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False, resume=str(tmp_path / resume)).start()


def test_resume_of_a_file_that_is_not_a_tracker_checkpoint_is_a_sentence(tmp_path: Path) -> None:
    plain = tmp_path / "weights.pth"
    torch.save(torch.nn.Linear(1, 1).state_dict(), plain)
    with pytest.raises(ValueError, match="lacks epoch, global_step, model, recorder, tracker"):
        curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False, resume=plain).start()


def test_continue_version_refuses_a_version_that_is_no_longer_reserved(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    _one_epoch(root)
    with pytest.raises(ValueError, match="continues a reserved version, but experiments/exp/model-v1 is complete"):
        curvewatch.RunTracker("exp", root=root, serve=False, resume="last", continue_version=True).start()
