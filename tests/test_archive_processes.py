"""Reliability with real processes: concurrent allocation, and a commit SIGKILLed at each stage.

Workers are module-level functions run in processes forked from a ``forkserver`` (a clean interpreter
that imported the archive once, no state shared with pytest), against the same archive root and the
same registry (SQLite file or PostgreSQL).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
from pathlib import Path

import pytest
from curvewatch.archive import COMMIT_STAGES, ModelArchive, ModelKey
from curvewatch.archive.atomic import atomic_write_bytes
from curvewatch.archive.versions_file import VersionsFile

WORKERS = 16
ROUNDS = 20
_KEY = ModelKey.product("P001", scope="all", model_type="mlstm")
_SPAWN = mp.get_context("forkserver")
_SPAWN.set_forkserver_preload(["curvewatch.archive", "curvewatch.recorder", "test_archive_support"])
_JOIN_TIMEOUT_S = 120


def _allocate_worker(root: str, db_url: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    archive = ModelArchive(root, db_url=db_url)
    versions = []
    for _ in range(ROUNDS):
        barrier.wait()  # every round, all workers allocate at the same moment
        versions.append(archive.allocate(_KEY).version)
    archive.close()
    out.put(versions)


def _commit_and_die_at(root: str, db_url: str, stage: str) -> None:
    from test_archive_support import make_recorder

    archive = ModelArchive(root, db_url=db_url)
    handle = archive.allocate(_KEY)
    atomic_write_bytes(handle.model_path, b"final weights")

    def die(current: str) -> None:
        if current == stage:
            os.kill(os.getpid(), signal.SIGKILL)

    archive._on_stage = die
    archive.commit(handle, make_recorder(), metrics_summary={"val_loss": 0.5})


def _run(target: object, *args: object) -> int:
    process = _SPAWN.Process(target=target, args=args)
    process.start()
    process.join(_JOIN_TIMEOUT_S)
    assert process.exitcode is not None, "the worker did not finish in time"
    return process.exitcode


def test_concurrent_allocations_never_share_a_version(tmp_path: Path, registry_db_url: str) -> None:
    root = str(tmp_path / "saved_models")
    ModelArchive(root, db_url=registry_db_url).close()  # schema created once; workers race on versions
    barrier, out = _SPAWN.Barrier(WORKERS, timeout=_JOIN_TIMEOUT_S), _SPAWN.Queue()
    workers = [
        _SPAWN.Process(target=_allocate_worker, args=(root, registry_db_url, barrier, out)) for _ in range(WORKERS)
    ]
    for w in workers:
        w.start()
    results = [out.get(timeout=_JOIN_TIMEOUT_S) for _ in workers]
    for w in workers:
        w.join(_JOIN_TIMEOUT_S)
    assert [w.exitcode for w in workers] == [0] * WORKERS
    allocated = sorted(v for versions in results for v in versions)
    assert allocated == list(range(1, WORKERS * ROUNDS + 1))  # 0 duplicates, 0 gaps
    archive = ModelArchive(root, db_url=registry_db_url)
    assert VersionsFile(root).read() == {_KEY.identifier: WORKERS * ROUNDS}
    assert [r.version for r in archive.list()] == allocated
    assert sorted(int(p.name[1:]) for p in (Path(root) / _KEY.relative_dir).iterdir()) == allocated
    archive.close()


def test_killed_commit_leaves_version_incomplete(tmp_path: Path, registry_db_url: str) -> None:
    from test_archive_support import commit_version

    root = tmp_path / "saved_models"
    archive = ModelArchive(root, db_url=registry_db_url)
    previous = commit_version(archive)
    before = {p.name: p.read_bytes() for p in previous.path.iterdir()}
    for number, stage in enumerate(COMMIT_STAGES, start=2):
        assert _run(_commit_and_die_at, str(root), registry_db_url, stage) == -signal.SIGKILL
        assert VersionsFile(root).read() == {_KEY.identifier: number}  # valid, and counts the killed one
        assert archive.verify(_KEY.identifier, 1) == []
        assert {p.name: p.read_bytes() for p in previous.path.iterdir()} == before
        killed = archive_path_of(root, number)
        marker = json.loads((killed / "status.json").read_text())
        if COMMIT_STAGES.index(stage) <= COMMIT_STAGES.index("mark_complete"):
            assert marker["state"] == "reserved", stage
            assert archive.get(_KEY.identifier, number).status == "reserved"
            assert not (killed / "manifest.json").exists() or stage == "mark_complete"
        else:  # killed after the mark, before indexing: complete on disk, settled by the next read
            assert marker["state"] == "complete"
            assert [r.status for r in archive.list() if r.version == number] == ["complete"]
            assert archive.verify(_KEY.identifier, number) == []  # the row was written by that read
        assert archive.get(_KEY.identifier, "latest").version in (1, number)
    assert archive.allocate(_KEY).version == len(COMMIT_STAGES) + 2
    archive.close()


def archive_path_of(root: Path, version: int) -> Path:
    return root / _KEY.relative_dir / f"v{version}"


@pytest.mark.parametrize("stage", ["curves", "manifest"])
def test_interrupted_version_can_be_failed_and_verified_as_incomplete(tmp_path: Path, stage: str) -> None:
    root = tmp_path / "saved_models"
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert _run(_commit_and_die_at, str(root), url, stage) == -signal.SIGKILL
    archive = ModelArchive(root, db_url=url)
    problems = archive.verify(_KEY.identifier, 1)
    assert problems[0] == "the version is reserved, not complete"
    assert "manifest.json is missing" in problems
    archive.close()
