"""Provenance in every version's metadata (tracker runs and plain archive commits), printed by `versions show`."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
import sys
from pathlib import Path

import curvewatch
import numpy as np
import pytest
import torch
from curvewatch.archive import ModelArchive, ModelKey, atomic_torch_save
from curvewatch.cli import main
from curvewatch.provenance import git_state, provenance

KEY = ModelKey.experiment("prov", model_type="mlp")


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text("print('v1')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def test_provenance_records_versions_host_command_and_a_clean_or_dirty_checkout(checkout: Path) -> None:
    head = git(checkout, "rev-parse", "HEAD")
    clean = provenance(cwd=checkout)
    assert clean["git"] == {"commit": head, "dirty": False, "root": str(checkout)}
    assert clean["packages"]["torch"] == torch.__version__
    assert clean["packages"]["numpy"] == np.__version__ and clean["packages"]["curvewatch"]
    assert clean["python"] == platform.python_version() and clean["host"] == socket.gethostname()
    assert isinstance(clean["command"], list) and clean["command"]
    (checkout / "untracked.txt").write_text("x")
    assert provenance(cwd=checkout)["git"]["dirty"] is False  # untracked files do not count
    (checkout / "train.py").write_text("print('v2')\n")
    assert provenance(cwd=checkout)["git"]["dirty"] is True


def test_provenance_outside_a_checkout_has_no_git(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None and provenance(cwd=tmp_path)["git"] is None


def test_tracker_records_data_digests_resume_source_and_git(checkout: Path, monkeypatch) -> None:
    monkeypatch.chdir(checkout)
    data = checkout / "data.csv"
    data.write_bytes(b"x,y\n1,2\n")
    root = checkout.parent / "saved_models"
    with curvewatch.RunTracker(KEY, root=root, serve=False, data_files=[data], resumed_from="old/ckpt.pth") as run:
        run.epoch_end(1, val_loss=0.1)
        record = run.finish(torch.nn.Linear(1, 1))
    prov = json.loads((record.path / "metadata.json").read_text())["provenance"]
    assert prov["data"] == [{"path": str(data), "sha256": hashlib.sha256(b"x,y\n1,2\n").hexdigest(), "bytes": 8}]
    assert prov["resumed_from"] == "old/ckpt.pth"
    assert prov["git"]["commit"] == git(checkout, "rev-parse", "HEAD") and prov["git"]["dirty"] is False


def test_every_version_records_its_provenance_even_without_a_tracker(tmp_path: Path) -> None:
    with ModelArchive(tmp_path / "saved_models") as archive:
        handle = archive.allocate(ModelKey.product("P001", model_type="mlp"))
        atomic_torch_save(torch.nn.Linear(1, 1).state_dict(), handle.model_path)
        rec = curvewatch.CurveRecorder(budget=16)
        rec.log(1, val_loss=0.5)
        record = archive.commit(handle, rec, metadata={"mine": 1})
        assert archive.verify(record.identifier) == []
    meta = json.loads((record.path / "metadata.json").read_text())
    assert meta["mine"] == 1 and meta["provenance"]["packages"]["curvewatch"]


def test_versions_show_prints_the_provenance(checkout: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(checkout)
    root = checkout.parent / "saved_models"
    with curvewatch.RunTracker(KEY, root=root, serve=False) as run:
        run.epoch_end(1, val_loss=0.1)
        run.finish(torch.nn.Linear(1, 1))
    assert main(["versions", "show", KEY.identifier, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "provenance:" in out and f"torch={torch.__version__}" in out
    assert f"{git(checkout, 'rev-parse', 'HEAD')} (clean) in {checkout}" in out
    assert f"{socket.gethostname()} / " in out
    assert main(["versions", "show", KEY.identifier, "--root", str(root), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["provenance"]["git"]["dirty"] is False and shown["run_id"] == f"{KEY.identifier}-v1"


def test_no_password_in_the_recorded_command(tmp_path: Path, monkeypatch) -> None:
    argv = ["train.py", "--db-url", "postgresql+psycopg://alice:s3cr%40t@db.example:5432/registry",
            "--root=https://bob:tok:en@host.example/bucket", "--endpoint", "http://127.0.0.1:9000/", "--lr", "0.1"]
    monkeypatch.setattr(sys, "argv", argv)
    command = provenance(cwd=tmp_path)["command"]
    assert command == ["train.py", "--db-url", "postgresql+psycopg://alice:***@db.example:5432/registry",
                       "--root=https://bob:***@host.example/bucket", "--endpoint", "http://127.0.0.1:9000/",
                       "--lr", "0.1"]
    assert "s3cr" not in repr(command) and "tok" not in repr(command)
