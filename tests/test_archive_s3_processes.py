"""An S3 root with real processes: two "hosts" (two caches of one ``s3://`` root, one PostgreSQL registry)
committing at once, and an upload killed with SIGKILL. moto.server on 127.0.0.1 and the suite's PostgreSQL.

Workers are module-level functions in ``spawn``ed interpreters, given the S3 client's environment."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive, VersionNotFoundError
from fixtures.s3 import s3_environment, s3_root, s3_server  # noqa: F401 - pytest fixtures
from test_archive_support import KEY

WORKERS = 8
HOSTS = 2
ROUNDS = 3
_SPAWN = mp.get_context("spawn")
_JOIN_TIMEOUT_S = 240
_MARK_TIMEOUT_S = 120


def _commit_worker(root: str, db_url: str, cache: str, env: dict, barrier: mp.synchronize.Barrier) -> list[int]:
    os.environ.update(env)
    from test_archive_support import commit_version

    archive = ModelArchive(root, db_url=db_url, cache_dir=cache)
    versions = []
    for _ in range(ROUNDS):
        barrier.wait()  # every round, all workers of both hosts allocate and commit at the same moment
        versions.append(commit_version(archive).version)
    archive.close()
    return versions


@pytest.mark.timeout(600)  # 8 interpreters importing torch on 2 cores: about a minute, more on a loaded machine
def test_two_hosts_commit_concurrently_without_duplicate_or_half_version(
    s3_root: str, s3_server, postgres_db_url: str, tmp_path: Path  # noqa: F811, ANN001
) -> None:
    ModelArchive(s3_root, db_url=postgres_db_url, cache_dir=tmp_path / "setup").close()  # schema made once
    env = s3_environment(s3_server, tmp_path / "unused")
    with _SPAWN.Manager() as manager, ProcessPoolExecutor(WORKERS, mp_context=_SPAWN) as pool:
        barrier = manager.Barrier(WORKERS)
        hosts = [str(tmp_path / f"host-{i % HOSTS}") for i in range(WORKERS)]
        futures = [pool.submit(_commit_worker, s3_root, postgres_db_url, host, env, barrier) for host in hosts]
        results = [future.result(timeout=_JOIN_TIMEOUT_S) for future in futures]
    committed = sorted(v for versions in results for v in versions)
    assert committed == list(range(1, WORKERS * ROUNDS + 1))  # no duplicate, no gap
    auditor = ModelArchive(s3_root, db_url=postgres_db_url, cache_dir=tmp_path / "auditor", read_only=True)
    records = auditor.list()
    assert [(r.version, r.status) for r in records] == [(v, "complete") for v in committed]
    stored = auditor.storage.version_dirs()
    assert sorted(int(d.name[1:]) for d in stored) == committed  # every stored version is one of them, none half
    for version in committed:
        assert auditor.verify(KEY.identifier, version) == [], version
    auditor.close()


def _upload_and_hang(root: str, db_url: str, cache: str, env: dict, mark: str) -> None:
    os.environ.update(env)
    import torch
    from curvewatch.archive import atomic_torch_save
    from test_archive_support import make_recorder

    archive = ModelArchive(root, db_url=db_url, cache_dir=cache)
    handle = archive.allocate(KEY)
    atomic_torch_save({"w": torch.zeros(3 << 20)}, handle.model_path)  # 12 MB of weights
    upload = archive.storage.upload

    def slow_upload(directory: Path, names: list[str]) -> None:
        for name in names:  # one at a time; after curves.json the process waits for its SIGKILL
            upload(directory, [name])
            if name == "curves.json":
                Path(mark).write_text("uploading")
                time.sleep(600)

    archive.storage.upload = slow_upload
    archive.commit(handle, make_recorder(), metrics_summary={"val_loss": 0.5})


def test_killed_upload_never_shows_a_complete_version(
    s3_root: str, s3_server, postgres_db_url: str, tmp_path: Path  # noqa: F811, ANN001
) -> None:
    mark = tmp_path / "mark"
    env = s3_environment(s3_server, tmp_path / "unused")
    writer = _SPAWN.Process(target=_upload_and_hang,
                            args=(s3_root, postgres_db_url, str(tmp_path / "host-a"), env, str(mark)))
    writer.start()
    deadline = time.monotonic() + _MARK_TIMEOUT_S
    while not mark.exists():
        assert writer.is_alive() and time.monotonic() < deadline, "the writer never reached its upload"
        time.sleep(0.05)
    other = ModelArchive(s3_root, db_url=postgres_db_url, cache_dir=tmp_path / "host-b")
    prefix = other.root / KEY.relative_dir / "v1"
    assert other.storage.exists(prefix)  # some files are up: mid-upload
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(_JOIN_TIMEOUT_S)
    assert writer.exitcode == -signal.SIGKILL
    assert other.storage.read_state(prefix)["state"] == "reserved"
    assert [(r.version, r.status) for r in other.list()] == [(1, "reserved")]
    assert other.list(status="complete") == []
    with pytest.raises(VersionNotFoundError, match="has no complete version"):
        other.get(KEY.identifier, "latest")
    assert other.verify(KEY.identifier, 1)[0].startswith("the version is reserved, not complete")
    result = other.rebuild()  # the store as it was left: still not complete
    assert result.rows == 1 and [r.status for r in other.list()] == ["reserved"]
    from test_archive_support import commit_version

    assert commit_version(other).version == 2  # the next version is fine
    assert other.get(KEY.identifier, "latest").version == 2
    from curvewatch.archive import VersionStateError

    with pytest.raises(VersionStateError, match="is reserved and may still be training"):
        other.delete(KEY.identifier, 1)
    other.delete(KEY.identifier, 1, force=True)  # the killed upload's objects and row go
    assert not other.storage.exists(prefix) and [r.version for r in other.list()] == [2]
    other.close()
