"""A registry shared by archive roots: versions decided in the database, rows owned by their root
(issue 16, failures 1 and 2), on the real PostgreSQL server and SQLite.

Workers are module-level functions in ``forkserver`` processes (as in test_archive_processes.py).
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from curvewatch.archive import ArchiveError, ModelArchive, ModelKey
from curvewatch.archive.registry import model_versions
from test_archive_support import commit_version

ROOTS = 2
WORKERS_PER_ROOT = 8
ROUNDS = 5
_KEY = ModelKey.product("P001", scope="all", model_type="mlstm")
_SPAWN = mp.get_context("forkserver")
_SPAWN.set_forkserver_preload(["curvewatch.archive"])
_JOIN_TIMEOUT_S = 180


def _allocate_worker(root: str, db_url: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    with ModelArchive(root, db_url=db_url) as archive:
        versions = []
        for _ in range(ROUNDS):
            barrier.wait(_JOIN_TIMEOUT_S)  # every round, all 16 workers of both roots allocate at once
            versions.append(archive.allocate(_KEY).version)
    out.put((root, versions))


def test_shared_registry_allocates_unique_versions_across_roots(tmp_path: Path, postgres_db_url: str) -> None:
    roots = [str(tmp_path / f"host{i}" / "saved_models") for i in range(ROOTS)]
    barrier, out = _SPAWN.Barrier(ROOTS * WORKERS_PER_ROOT), _SPAWN.Queue()
    procs = [
        _SPAWN.Process(target=_allocate_worker, args=(root, postgres_db_url, barrier, out))
        for root in roots for _ in range(WORKERS_PER_ROOT)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=_JOIN_TIMEOUT_S) for _ in procs]
    for p in procs:
        p.join(_JOIN_TIMEOUT_S)
        assert p.exitcode == 0
    everything = [v for _, versions in results for v in versions]
    assert sorted(everything) == list(range(1, ROOTS * WORKERS_PER_ROOT * ROUNDS + 1))  # unique, no gaps
    engine = sa.create_engine(postgres_db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(model_versions.c.version, model_versions.c.archive_root)).all()
    engine.dispose()
    assert sorted(v for v, _ in rows) == sorted(everything)  # one row per version, none overwritten
    for root in roots:
        mine = sorted(v for r, versions in results if r == root for v in versions)
        on_disk = sorted(int(p.name[1:]) for p in (Path(root) / _KEY.relative_dir).iterdir())
        root_id = (Path(root) / "archive_id").read_text().strip()
        assert on_disk == mine == sorted(v for v, owner in rows if owner == root_id)


def test_a_row_is_never_overwritten_by_another_root(tmp_path: Path, postgres_db_url: str) -> None:
    first = ModelArchive(tmp_path / "a" / "saved_models", db_url=postgres_db_url)
    second = ModelArchive(tmp_path / "b" / "saved_models", db_url=postgres_db_url)
    record = commit_version(first)
    assert record.version == 1
    assert second.allocate(_KEY).version == 2  # the registry, not b's empty versions.json, decides
    row = second.row(_KEY, 1, "failed", record.created_at)
    with pytest.raises(ArchiveError, match="indexed by another archive root"):
        second.registry.upsert(row)
    assert first.get(_KEY.identifier, 1).status == "complete"
    result = second.rebuild()  # b re-indexes its own rows only
    assert result.conflicts == [] and [r.version for r in first.list()] == [1]  # b's v2 is b's
    assert [r.version for r in second.list()] == [2]
    assert first.verify(_KEY.identifier, 1) == []
    first.close()
    second.close()


def test_reads_of_a_shared_registry_see_only_their_root(
    tmp_path: Path, postgres_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:

    roots = [tmp_path / name / "saved_models" for name in ("a", "b")]
    archives = [ModelArchive(root, db_url=postgres_db_url) for root in roots]
    try:
        _check_reads_by_root(roots, archives, postgres_db_url, capsys)
    finally:
        for archive in archives:
            archive.close()


def _check_reads_by_root(roots: list[Path], archives: list[ModelArchive], postgres_db_url: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from curvewatch.cli import main

    commit_version(archives[0], _KEY, val_loss=0.5)  # v1 on a, the better one
    commit_version(archives[1], _KEY, val_loss=0.9)  # v2 on b
    commit_version(archives[0], _KEY, val_loss=0.7)  # v3 on a
    assert [r.version for r in archives[0].list()] == [1, 3]
    assert [r.version for r in archives[1].list()] == [2]
    assert archives[1].best("val_loss").version == 2  # not a's v1, whose path does not exist on b
    assert archives[1].get(_KEY.identifier).version == 2  # latest of b's own
    with pytest.raises(ArchiveError, match="has no version 1"):
        archives[1].get(_KEY.identifier, 1)

    def cli(root: Path, *argv: str) -> tuple[int, str]:
        code = main(["versions", *argv, "--root", str(root), "--db-url", postgres_db_url])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, out = cli(roots[1], "verify", "--all")
    assert code == 0 and "missing" not in out and "v2" in out and "v1" not in out
    code, out = cli(roots[1], "list")
    assert code == 0 and " 2 " in out and " 3 " not in out
    code, out = cli(roots[1], "delete", _KEY.identifier, "1")  # a's version: not b's to delete
    assert code != 0 and "Deleted" not in out
    assert [r.version for r in archives[0].list()] == [1, 3] and (roots[0] / _KEY.relative_dir / "v1").is_dir()


def test_many_roots_on_sqlite_are_refused(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    with ModelArchive(tmp_path / "a" / "saved_models", db_url=db_url) as first:
        first.allocate(_KEY)
    with ModelArchive(tmp_path / "b" / "saved_models", db_url=db_url) as second:
        with pytest.raises(ArchiveError, match="a SQLite registry serves one root"):
            second.allocate(_KEY)
        with pytest.raises(ArchiveError, match="through PostgreSQL"):
            second.rebuild()
        assert not (second.root / _KEY.relative_dir).exists()
    with ModelArchive(tmp_path / "a" / "saved_models", db_url=db_url) as first:
        assert [r.version for r in first.list()] == [1]


@pytest.mark.parametrize(
    "legacy_dir",
    ["global/stores/v3/sum/mlp", "global/custom/v1/v2/mean/tcn", "product/v3_all/v1", "experiments/v4/kan"],
)
def test_rebuild_names_the_version_directories_it_cannot_index(
    tmp_path: Path, legacy_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fields named like versions (``--store v3``) are refused now; an archive written before holds them.

    The scan descends past such a field and names the exact version directory it cannot index, instead of
    stopping at the field and dropping everything under it; every other key is re-indexed.
    """
    from curvewatch.cli import main

    with ModelArchive(tmp_path / "saved_models") as archive:
        good = commit_version(archive, _KEY)
        legacy = archive.root / legacy_dir / "v1"
        legacy.parent.mkdir(parents=True)
        shutil.copytree(good.path, legacy)
        (archive.root / "versions.json").unlink()
        result = archive.rebuild()
        assert result.skipped == [f"{legacy_dir}/v1"] and result.rows == 1
        assert result.versions == {_KEY.identifier: 1} and archive.verify(_KEY.identifier, 1) == []
    assert main(["versions", "rebuild", "--root", str(tmp_path / "saved_models")]) == 1
    assert f"skipped {legacy_dir}/v1: not a model directory of the archive layout" in capsys.readouterr().out


def test_a_registry_of_schema_1_is_upgraded_by_a_writer_and_refused_by_a_reader(
    tmp_path: Path, registry_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from curvewatch.cli import main

    root = tmp_path / "saved_models"
    with ModelArchive(root, db_url=registry_db_url) as archive:
        commit_version(archive, _KEY)
        with archive.registry.engine.begin() as conn:  # what an older curvewatch left
            conn.execute(sa.text("ALTER TABLE model_versions DROP COLUMN archive_root"))
            conn.execute(sa.text("UPDATE curvewatch_schema SET version = 1"))
    assert main(["versions", "list", "--root", str(root), "--db-url", registry_db_url]) == 2
    assert "has schema version 1, this curvewatch reads 2" in capsys.readouterr().err
    with ModelArchive(root, db_url=registry_db_url) as archive:  # a writer migrates
        assert archive.registry.schema_version() == 2
        assert archive.allocate(_KEY).version == 2
        assert [r.version for r in archive.list()] == [1, 2] and archive.verify(_KEY.identifier, 1) == []
