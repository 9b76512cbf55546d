"""ModelArchive on real files and a real registry: SQLite and the PostgreSQL server (each test runs on both)."""

from __future__ import annotations

import json
from pathlib import Path

import filelock
import pytest
import sqlalchemy as sa
import torch
from curvewatch.archive import (
    ModelArchive,
    ModelKey,
    RegistryCorruptError,
    VersionNotFoundError,
    VersionStateError,
    atomic_torch_save,
    load_model,
)
from curvewatch.archive.registry import SCHEMA_VERSION, Registry
from test_archive_support import KEY, commit_version, make_recorder, tamper


@pytest.fixture
def archive(tmp_path: Path, registry_db_url: str) -> ModelArchive:
    archive = ModelArchive(tmp_path / "saved_models", db_url=registry_db_url)
    yield archive
    archive.close()


def test_commit_writes_every_file_and_indexes_the_version(archive: ModelArchive) -> None:
    record = commit_version(archive)
    names = sorted(p.name for p in record.path.iterdir())
    assert names == [
        "checkpoint_epoch_1.pth",
        "curves.json",
        "loss_curve.png",
        "manifest.json",
        "metadata.json",
        "model.pth",
        "status.json",
    ]
    assert record.path == archive.root / "product" / "P001_all" / "mlstm" / "v1"
    got = archive.get(KEY.identifier, 1)
    assert (got.status, got.model_path, got.best_step) == ("complete", "product/P001_all/mlstm/v1", 30)
    assert got.curves == json.loads((record.path / "curves.json").read_text())
    assert got.metrics_summary == {"val_loss": 1.0} and got.manifest_sha256 == record.manifest_sha256
    assert json.loads((archive.root / "versions.json").read_text()) == {KEY.identifier: 1}
    assert (record.path / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert archive.verify(KEY.identifier, 1) == []


def test_default_registry_is_a_sqlite_file_next_to_the_root(tmp_path: Path) -> None:
    archive = ModelArchive(tmp_path / "saved_models")
    commit_version(archive)
    archive.close()
    assert (tmp_path / "curvewatch_registry.sqlite3").is_file()
    reopened = ModelArchive(tmp_path / "saved_models")
    assert reopened.get(KEY.identifier).version == 1
    reopened.close()


def test_versions_start_at_one_and_increase(archive: ModelArchive) -> None:
    other = ModelKey.store("S001", scope="P002", model_type="transformer")
    handles = [archive.allocate(KEY), archive.allocate(other), archive.allocate(KEY)]
    assert [(h.identifier, h.version) for h in handles] == [
        (KEY.identifier, 1),
        (other.identifier, 1),
        (KEY.identifier, 2),
    ]
    assert handles[2].run_id == "product_P001_all_mlstm-v2"
    assert handles[2].best_checkpoint_path.name == "checkpoint_best.pth"
    assert [r.status for r in archive.list(identifier=KEY.identifier)] == ["reserved", "reserved"]


def test_lookups_latest_best_and_filters(archive: ModelArchive) -> None:
    commit_version(archive, val_loss=0.9)
    commit_version(archive, val_loss=0.2)
    commit_version(archive, val_loss=0.5)
    archive.allocate(KEY)  # v4 reserved: never "latest"
    glob = ModelKey.global_(aggregation="sum", model_type="kan")
    commit_version(archive, glob, val_loss=0.1)
    assert archive.get(KEY.identifier).version == 3
    assert archive.get(KEY.identifier, 4).status == "reserved"
    assert archive.best(identifier=KEY.identifier).version == 2
    assert archive.best(mode="max", model_type="mlstm").version == 1
    assert archive.best().identifier == "global_all_sum_kan"
    assert [r.version for r in archive.list(model_type="kan")] == [1]
    assert len(archive.list(status="complete")) == 4
    with pytest.raises(VersionNotFoundError, match="has no version 9"):
        archive.get(KEY.identifier, 9)
    with pytest.raises(ValueError, match="`mode` can be min, max"):
        archive.best(mode="lowest")


def test_load_model_uses_weights_only_and_plain_metadata(archive: ModelArchive) -> None:
    record = commit_version(archive)
    state, metadata = load_model(record.path)
    assert torch.equal(state["w"], torch.full((2, 2), 1.0))
    assert metadata["scaler"] == {"mean": 1.5} and metadata["archive"]["run_id"] == record.run_id
    evil = archive.allocate(KEY)
    torch.save({"obj": Path("x")}, evil.model_path)  # an arbitrary object: weights_only refuses it
    archive.commit(evil, make_recorder())
    with pytest.raises(Exception, match="Weights only load failed"):
        load_model(evil.path)


def test_incomplete_version_cannot_be_loaded_or_committed_twice(archive: ModelArchive) -> None:
    handle = archive.allocate(KEY)
    with pytest.raises(VersionStateError, match="model.pth is missing"):
        archive.commit(handle, make_recorder())
    with pytest.raises(VersionStateError, match="reserved, not complete"):
        load_model(handle.path)
    atomic_torch_save({"w": torch.ones(1)}, handle.model_path)
    archive.commit(handle, make_recorder())
    with pytest.raises(VersionStateError, match="already complete; allocate a new version"):
        archive.commit(handle, make_recorder())


def test_fail_marks_the_version_failed(archive: ModelArchive) -> None:
    handle = archive.allocate(KEY)
    archive.fail(handle, "loss became NaN")
    assert archive.get(KEY.identifier, 1).status == "failed"
    assert any("failed, not complete (loss became NaN)" in p for p in archive.verify(KEY.identifier, 1))


def test_verify_reports_every_changed_missing_or_added_file(archive: ModelArchive) -> None:
    record = commit_version(archive)
    tamper(record.path / "model.pth")
    tamper(record.path / "loss_curve.png")
    (record.path / "checkpoint_epoch_1.pth").unlink()
    (record.path / "notes.txt").write_text("added later")
    problems = archive.verify(KEY.identifier, 1)
    assert any(p.startswith("model.pth was changed") for p in problems)
    assert any(p.startswith("loss_curve.png was changed") for p in problems)
    assert "checkpoint_epoch_1.pth is missing" in problems
    assert "notes.txt is not in the manifest (added after commit)" in problems


def test_verify_checks_the_curves_schema_and_the_manifest_digest(archive: ModelArchive) -> None:
    record = commit_version(archive)
    curves = json.loads((record.path / "curves.json").read_text())
    curves["schema_version"] = 99
    (record.path / "curves.json").write_text(json.dumps(curves))
    manifest = json.loads((record.path / "manifest.json").read_text())
    manifest["files"]["curves.json"] = "0" * 64
    (record.path / "manifest.json").write_text(json.dumps(manifest))
    problems = archive.verify(KEY.identifier, 1)
    assert any("curves.json does not match the curves schema" in p and "schema_version" in p for p in problems)
    assert any(p.startswith("manifest.json was changed") for p in problems)
    assert any(p.startswith("curves.json was changed") for p in problems)
    assert "the table's curves differ from curves.json" in problems


@pytest.mark.parametrize("content", [None, "{not json", '{"product_P001_all_mlstm": "two"}', "[1, 2]"])
def test_corrupt_or_missing_versions_json_is_detected_and_rebuild_restores_it(
    archive: ModelArchive, content: str | None
) -> None:
    commit_version(archive)
    commit_version(archive)
    path = archive.root / "versions.json"
    path.unlink() if content is None else path.write_text(content)
    with pytest.raises(RegistryCorruptError, match="run `curvewatch versions rebuild --root"):
        archive.allocate(KEY)
    assert any("versions rebuild" in p for p in archive.verify(KEY.identifier, 1))
    result = archive.rebuild()
    assert result.versions == {KEY.identifier: 2} and result.rows == 2
    assert json.loads(path.read_text()) == {KEY.identifier: 2}
    assert archive.allocate(KEY).version == 3
    assert archive.verify(KEY.identifier, 2) == []


def test_rebuild_restores_a_lost_table(archive: ModelArchive) -> None:
    commit_version(archive)
    archive.fail(archive.allocate(KEY), "diverged")
    with archive.registry.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM model_versions"))
    assert any("no row" in p for p in archive.verify(KEY.identifier, 1))
    archive.rebuild()
    assert [(r.version, r.status) for r in archive.list()] == [(1, "complete"), (2, "failed")]
    assert archive.get(KEY.identifier, 1).best_step == 30
    assert archive.verify(KEY.identifier, 1) == []


def test_rebuild_never_reuses_numbers_of_deleted_versions(archive: ModelArchive) -> None:
    commit_version(archive)
    commit_version(archive)
    archive.delete(KEY.identifier, 1)
    archive.delete(KEY.identifier, 2)  # no directory of KEY is left
    result = archive.rebuild()
    assert result.versions == {KEY.identifier: 2} and result.rows == 0
    assert archive.allocate(KEY).version == 3


def test_rebuild_never_indexes_a_tampered_version_as_complete(archive: ModelArchive) -> None:
    commit_version(archive, val_loss=0.1)  # v1, the best, then tampered
    commit_version(archive, val_loss=0.5)  # v2, intact
    commit_version(archive, val_loss=0.9)  # v3, the latest, then tampered
    tamper(archive.get(KEY.identifier, 1).path / "model.pth")
    tamper(archive.get(KEY.identifier, 3).path / "curves.json")
    result = archive.rebuild()
    assert [t.split(" ")[0] for t in result.tampered] == [f"{KEY.relative_dir}/v1", f"{KEY.relative_dir}/v3"]
    assert "model.pth was changed" in result.tampered[0]
    assert [(r.version, r.status) for r in archive.list()] == [(1, "tampered"), (2, "complete"), (3, "tampered")]
    assert archive.get(KEY.identifier).version == 2 and archive.best("val_loss").version == 2
    problems = archive.verify(KEY.identifier, 1)
    assert problems and not any("the table says" in p for p in problems)  # the files, not the index
    assert archive.verify(KEY.identifier, 2) == []


class _Killed(BaseException):
    """Stands for SIGKILL at a commit stage: nothing after it runs."""


def test_a_commit_killed_while_indexing_is_settled_on_read(archive: ModelArchive) -> None:
    def die(stage: str) -> None:
        if stage == "index":
            raise _Killed

    archive._on_stage = die
    with pytest.raises(_Killed):
        commit_version(archive)
    archive._on_stage = None
    with archive.registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM model_versions")).scalar() == "reserved"
    with ModelArchive(archive.root, db_url=archive.db_url, read_only=True) as reader:
        assert [r.status for r in reader.list()] == ["complete"]  # read as the directory says ...
        assert reader.get(KEY.identifier).version == 1
    with archive.registry.engine.connect() as conn:  # ... without writing from a read-only archive
        assert conn.execute(sa.text("SELECT status FROM model_versions")).scalar() == "reserved"
    assert archive.get(KEY.identifier, "latest").best_step == 30  # a writer re-indexes it
    with archive.registry.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM model_versions")).scalar() == "complete"
    assert archive.verify(KEY.identifier, 1) == []


def test_allocate_indexes_the_reserved_row_while_holding_the_lock(archive: ModelArchive) -> None:
    held_during_insert: list[bool] = []
    allocate = archive.registry.allocate

    def lock_is_held() -> bool:
        probe = filelock.FileLock(archive.versions.lock_path, timeout=0)  # a second, independent handle
        try:
            probe.acquire()
        except filelock.Timeout:
            return True  # a rebuild (which takes this lock) cannot run now
        probe.release()
        return False

    def watching_allocate(*args: object) -> int:
        held_during_insert.append(lock_is_held())
        return allocate(*args)

    archive.registry.allocate = watching_allocate  # type: ignore[method-assign]
    handle = archive.allocate(KEY)
    assert held_during_insert == [True] and not lock_is_held()
    assert archive.get(KEY.identifier, handle.version).status == "reserved"


def test_delete_removes_directory_and_row_consistently(archive: ModelArchive) -> None:
    first, second = commit_version(archive), commit_version(archive)
    archive.delete(KEY.identifier, 1)
    assert not first.path.exists() and [r.version for r in archive.list()] == [2]
    assert not list(first.path.parent.glob(".v1*"))
    with pytest.raises(VersionNotFoundError):
        archive.delete(KEY.identifier, 1)
    reserved = archive.allocate(KEY)
    with pytest.raises(VersionStateError, match="pass --force"):
        archive.delete(KEY.identifier, reserved.version)
    archive.delete(KEY.identifier, reserved.version, force=True)
    assert archive.allocate(KEY).version == 4  # numbers are never reused
    assert archive.verify(KEY.identifier, 2) == [] and second.path.is_dir()


def test_schema_version_is_recorded_and_a_newer_schema_is_refused(archive: ModelArchive) -> None:
    assert archive.registry.schema_version() == SCHEMA_VERSION
    Registry(archive.db_url).dispose()  # idempotent
    with archive.registry.engine.begin() as conn:
        conn.execute(sa.text("UPDATE curvewatch_schema SET version = 99"))
    with pytest.raises(Exception, match="newer than this curvewatch"):
        Registry(archive.db_url)


def test_duplicate_rows_are_refused_by_the_unique_constraint(archive: ModelArchive) -> None:
    archive.allocate(KEY)
    from curvewatch.archive.registry import model_versions

    with pytest.raises(sa.exc.IntegrityError), archive.registry.engine.begin() as conn:
        conn.execute(
            model_versions.insert().values(
                model_identifier=KEY.identifier,
                model_type="mlstm",
                version=1,
                model_path="x",
                status="reserved",
                created_at=archive.get(KEY.identifier, 1).created_at,
            )
        )
