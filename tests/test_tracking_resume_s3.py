"""RunTracker(resume=...) on an ``s3://`` root: a run SIGKILLed on one host resumes on another host (its own
cache directory), against moto.server on 127.0.0.1 and the suite's PostgreSQL, and gives the curves of a run
never killed (tests/resume_trainer.py's loop)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive
from curvewatch.recorder import load_document
from fixtures.s3 import s3_root, s3_server  # noqa: F401 - pytest fixtures

TRAINER = Path(__file__).with_name("resume_trainer.py")
KEY_DIR = "experiments/resume-demo/mlp"


def _train(root: str, mode: str, db_url: str, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CURVEWATCH_DB_URL": db_url, "CURVEWATCH_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, str(TRAINER), root, mode, *extra], capture_output=True, text=True,
                          timeout=180, env=env)


def _stored(root: str, prefix: str) -> set[str]:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    base = f"{root.removeprefix('s3://')}/{prefix}/"
    return {key[len(base):] for key in fs.find(base)}


@pytest.mark.timeout(420)
@pytest.mark.parametrize("continue_version", [False, True])
def test_resume_on_another_host_of_a_url_root(s3_root: str, postgres_db_url: str, tmp_path: Path,  # noqa: F811
                                              continue_version: bool) -> None:
    whole = _train(str(tmp_path / "whole" / "saved_models"), "full", f"sqlite:///{tmp_path}/whole.db",
                   tmp_path / "unused")
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = _train(s3_root, "kill", postgres_db_url, tmp_path / "host-a")
    assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL right after epoch 3's checkpoints
    # uploaded as written: the reserved version holds its checkpoints in the bucket, not only in host a's cache
    assert {"checkpoint_epoch_3.pth", "checkpoint_best.pth", "status.json"} <= _stored(s3_root, f"{KEY_DIR}/v1")
    done = _train(s3_root, "resume", postgres_db_url, tmp_path / "host-b",  # another host: an empty cache
                  *(["--continue"] if continue_version else []))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no checkpoint yet" not in done.stderr
    with ModelArchive(s3_root, db_url=postgres_db_url, cache_dir=tmp_path / "auditor") as archive:
        version = 1 if continue_version else 2
        assert [(r.version, r.status) for r in archive.list()] == (
            [(1, "complete")] if continue_version else [(1, "reserved"), (2, "complete")])
        record = archive.get(KEY_DIR, version)
        assert archive.verify(KEY_DIR, version) == []  # continued: host a's checkpoints are in the manifest too
        expected = load_document(tmp_path / "whole" / "saved_models" / KEY_DIR / "v1" / "curves.json")
        assert load_document(record.path / "curves.json") == expected  # every line and point of a run never killed
        resumed_from = __import__("json").loads((record.path / "metadata.json").read_text())["resumed_from"]
        assert resumed_from["version"] == 1 and resumed_from["epoch"] == 3
        assert (record.path / "checkpoint_best.pth").is_file()  # the old best came along from the bucket
        assert {f"checkpoint_epoch_{e}.pth" for e in range(1 if continue_version else 4, 7)} <= {
            p.name for p in record.path.iterdir()}


def test_a_stored_checkpoint_url_resumes_and_a_missing_one_is_a_sentence(
    s3_root: str, postgres_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog  # noqa: F811
) -> None:
    import curvewatch
    import torch

    monkeypatch.setenv("CURVEWATCH_CACHE_DIR", str(tmp_path / "host-a"))
    model = torch.nn.Linear(2, 1)
    with curvewatch.RunTracker("url-resume", model_type="lin", root=s3_root, db_url=postgres_db_url, serve=False,
                               checkpoint_every=1, model=model) as run:
        for epoch in (1, 2):
            run.log(train_loss=1.0 / epoch)
            run.epoch_end(epoch, val_loss=1.0 / epoch)
        run.finish()
    monkeypatch.setenv("CURVEWATCH_CACHE_DIR", str(tmp_path / "host-b"))
    url = f"{s3_root}/experiments/url-resume/lin/v1/checkpoint_epoch_1.pth"
    with curvewatch.RunTracker("url-resume", model_type="lin", root=s3_root, db_url=postgres_db_url, serve=False,
                               resume=url, model=torch.nn.Linear(2, 1)) as again:
        assert again.start_epoch == 2 and again.resumed["version"] == 1
        again.fail("only the resume was checked")
    with pytest.raises(FileNotFoundError, match="is not stored; pass a checkpoint in the bucket"):
        curvewatch.RunTracker("url-resume", model_type="lin", root=s3_root, db_url=postgres_db_url, serve=False,
                              resume=url.replace("epoch_1", "epoch_9")).start()
    with caplog.at_level(logging.WARNING, logger="curvewatch.tracking"):
        with curvewatch.RunTracker("url-resume-none", model_type="lin", root=s3_root, db_url=postgres_db_url,
                                   serve=False, resume="last") as fresh:
            assert fresh.start_epoch == 1
            fresh.fail("nothing to resume")
    assert any("has no checkpoint yet" in r.getMessage() for r in caplog.records)
    import fsspec
    from curvewatch.archive import ManifestMismatchError

    key = f"{s3_root.removeprefix('s3://')}/experiments/url-resume/lin/v1/checkpoint_epoch_2.pth"
    fsspec.filesystem("s3", skip_instance_cache=True).pipe_file(key, b"changed in the bucket")
    monkeypatch.setenv("CURVEWATCH_CACHE_DIR", str(tmp_path / "host-c"))
    with pytest.raises(ManifestMismatchError, match="Cannot resume from .*checkpoint_epoch_2.pth"):
        curvewatch.RunTracker("url-resume", model_type="lin", root=s3_root, db_url=postgres_db_url, serve=False,
                              resume=url.replace("epoch_1", "epoch_2")).start()  # v1 is complete: checked
        # out whole, and its manifest checks the changed checkpoint
