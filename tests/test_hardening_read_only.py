"""A read-only archive (a mounted audit copy) audits: the reading commands work on a real read-only bind
mount, with the SQLite registry in WAL mode, and the writing ones end in a sentence (issue 24).

Each command runs in its own mount namespace (``unshare``) where the archive's folder is bind-mounted
read-only, so the file system itself refuses writes (root included), as on a mounted copy.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from curvewatch.archive import ModelKey
from test_archive_support import archive_with

KEY = ModelKey.product("P001", scope="all", model_type="mlstm")
READING = {
    "list": ["versions", "list"],
    "show": ["versions", "show", KEY.identifier, "1"],
    "verify": ["versions", "verify", "--all"],
    "report": ["report", f"{KEY.identifier}:1", "--out", "{out}/report.html"],
    "compare": ["compare", f"{KEY.identifier}:1", f"{KEY.identifier}:2", "--out", "{out}/compare.png"],
}
WRITING = {
    "rebuild": ["versions", "rebuild"],
    "delete": ["versions", "delete", KEY.identifier, "1", "--force"],
}


@pytest.fixture(scope="module")
def archive_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = archive_with(tmp_path_factory.mktemp("audit_copy"), KEY, KEY)
    with closing(sqlite3.connect(base / "curvewatch_registry.sqlite3")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # what the writers left
    return base


def _tree(base: Path) -> dict[str, str]:
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def _read_only_run(base: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``curvewatch ARGV --root BASE/saved_models`` with BASE bind-mounted read-only in a mount namespace."""
    command = shlex.join([sys.executable, "-m", "curvewatch", *argv, "--root", str(base / "saved_models")])
    folder = shlex.quote(str(base))
    script = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && exec {command}"
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    return subprocess.run([*unshare, "sh", "-c", script], capture_output=True, text=True, timeout=120)


def test_the_mount_is_read_only(archive_base: Path) -> None:
    folder = shlex.quote(str(archive_base))
    script = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && touch {folder}/probe"
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    done = subprocess.run([*unshare, "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Read-only file system" in done.stderr
    assert not (archive_base / "probe").exists()


@pytest.mark.parametrize("name", sorted(READING))
def test_reading_commands_audit_a_read_only_archive(archive_base: Path, tmp_path: Path, name: str) -> None:
    before = _tree(archive_base)
    argv = [a.replace("{out}", str(tmp_path)) for a in READING[name]]
    done = _read_only_run(archive_base, argv)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if name == "verify":
        assert done.stdout.count(": ok") == 2
    if name == "list":
        assert done.stdout.count(KEY.identifier) == 2
    assert _tree(archive_base) == before


@pytest.mark.parametrize("name", sorted(WRITING))
def test_writing_a_read_only_archive_is_a_sentence(archive_base: Path, name: str) -> None:
    before = _tree(archive_base)
    done = _read_only_run(archive_base, WRITING[name])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is on a read-only file system and this command writes" in done.stderr
    assert _tree(archive_base) == before
