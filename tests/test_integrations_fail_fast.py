"""a_best_metric_never_logged_fails_at_the_first_epoch_end, through the frameworks: a ``monitor`` that is
never logged ends a real Lightning fit / Trainer.train after its first epoch, with the tracker's sentence,
and the version is failed with it (not after the whole run, at commit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive
from test_integrations_resume import EXPERIMENTS, train

CASES = {  # framework: (typo, checkpoints saved before it failed: the first epoch only, HF evaluates before it saves;
    #            the first epoch in the framework's own numbering: Lightning counts from 0, HF from 1)
    "lightning": ("val_accuracy", "ckpt", ["epoch=0-step=4.ckpt", "last.ckpt"], 0),
    "transformers": ("eval_accuracy", "hf", [], 1),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("framework", sorted(CASES))
def test_a_monitor_never_logged_fails_after_the_first_epoch(tmp_path: Path, framework: str) -> None:
    typo, checkpoints, saved, first = CASES[framework]
    done = train(framework, tmp_path, "typo")
    assert done.returncode == 1
    assert f"ValueError: best={typo!r} was never logged in epoch" in done.stderr
    folder = tmp_path / checkpoints
    assert (sorted(p.name for p in folder.iterdir()) if folder.exists() else []) == saved  # 1 of 6 epochs ran
    assert f"best={typo!r} was never logged in epoch {first};" in done.stderr
    with ModelArchive(tmp_path / "saved_models") as archive:
        (row,) = archive.list()
    assert row.status == "failed"
    status = json.loads((row.path / "status.json").read_text())
    assert status["reason"].startswith(f"best={typo!r} was never logged in epoch") and EXPERIMENTS[framework]
