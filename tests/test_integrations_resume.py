"""The frameworks' own resume (Lightning's ``fit(ckpt_path=...)``, the Trainer's
``train(resume_from_checkpoint=...)``) resumes the curves: real tiny models, a real SIGKILL when epoch 4
begins, a resumed process, and a finalized curves document equal point for point to an uninterrupted run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive
from curvewatch.recorder import load_document

SCRIPT = Path(__file__).with_name("resume_frameworks.py")
EXPERIMENTS = {"lightning": "experiments/resume-lit/tiny", "transformers": "experiments/resume-hf/tiny"}


def train(framework: str, workdir: Path, mode: str, *extra: str) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, str(SCRIPT), framework, str(workdir / "saved_models"), str(workdir), mode,
                           *extra], capture_output=True, text=True, timeout=240)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("framework", "continue_version"),
                         [("lightning", False), ("transformers", False), ("transformers", True)])
def test_framework_resume_gives_the_curves_of_an_uninterrupted_run(tmp_path: Path, framework: str,
                                                                    continue_version: bool) -> None:
    identifier = EXPERIMENTS[framework]
    whole = train(framework, tmp_path / "whole", "full")
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = train(framework, tmp_path / "resumed", "kill")
    assert killed.returncode == -9, killed.stderr[-3000:]
    done = train(framework, tmp_path / "resumed", "resume", *(["--continue"] if continue_version else []))
    assert done.returncode == 0, done.stderr[-3000:]
    version = 1 if continue_version else 2
    root = tmp_path / "resumed" / "saved_models"
    got = load_document(root / identifier / f"v{version}" / "curves.json")
    expected = load_document(tmp_path / "whole" / "saved_models" / identifier / "v1" / "curves.json")
    lines = {ln["metric"]: ln for chart in got["charts"] for ln in chart["lines"]}
    assert lines["val_loss" if framework == "lightning" else "eval_loss"]["points_logged"] == 6
    assert got == expected
    with ModelArchive(root) as archive:
        assert [(r.version, r.status) for r in archive.list()] == \
            ([(1, "complete")] if continue_version else [(1, "reserved"), (2, "complete")])
        assert archive.verify(identifier, version) == []
        meta = archive.get(identifier, version)
    resumed_from = json.loads((meta.path / "metadata.json").read_text())["resumed_from"]
    assert resumed_from["run_id"] == f"{identifier}-v1"
    assert resumed_from["epoch"] == (2 if framework == "lightning" else 3)  # 0-based / 1-based


def test_lightning_logger_refuses_continue_version_with_a_sentence() -> None:
    from curvewatch.integrations.lightning import CurvewatchLogger

    with pytest.raises(ValueError, match="CurvewatchLogger resumes into a new version"):
        CurvewatchLogger(experiment="x", continue_version=True, serve=False)
