"""An archive root on object storage: a real S3 API server (moto.server on 127.0.0.1) and the real PostgreSQL
registry of the suite; two "hosts" are two archives on the same URL with their own caches."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from curvewatch.archive import ArchiveError, ManifestMismatchError, ModelArchive, load_model
from curvewatch.archive._remote import UPLOAD_BLOCK_BYTES
from curvewatch.archive.storage import redact_url, root_url
from fixtures.s3 import s3_root, s3_server  # noqa: F401 - pytest fixtures
from test_archive_support import KEY, commit_version


def _fs():
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True)


def _host(root: str, db_url: str, tmp_path: Path, name: str, **kwargs: object) -> ModelArchive:
    return ModelArchive(root, db_url=db_url, cache_dir=tmp_path / f"host-{name}", **kwargs)


def _objects(url: str) -> dict[str, bytes]:
    fs = _fs()
    base = url.removeprefix("s3://")
    return {key[len(base) + 1:]: fs.cat_file(key) for key in fs.find(base)}


def test_a_url_root_needs_a_registry_transaction(s3_root: str, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(ArchiveError, match=r"has no lock.*--db-url postgresql") as caught:
        ModelArchive(s3_root, cache_dir=tmp_path / "cache")
    assert "versions.json or SQLite file on the object store is refused" in str(caught.value)
    with pytest.raises(ArchiveError, match="has no lock"):
        ModelArchive(s3_root, read_only=True)
    assert not (tmp_path / "cache").exists()  # refused before anything was made


@pytest.mark.parametrize(("text", "shown"), [
    ("http://key:secret@127.0.0.1:9000/b", "http://***@127.0.0.1:9000/b"),
    ('Could not connect to "https://AKIA:s3cr3t@s3.example.com/bucket"', 'Could not connect to "https://***@s3.example.com/bucket"'),
    ("s3://bucket/prefix", "s3://bucket/prefix"),
])
def test_credentials_never_go_into_a_root_url(text: str, shown: str) -> None:
    assert redact_url(text) == shown
    with pytest.raises(ArchiveError, match=r"holds credentials; remove them") as caught:
        ModelArchive("s3://AKIAEXAMPLE:very-secret@bucket/models", db_url="postgresql+psycopg://u@127.0.0.1/x")
    assert "very-secret" not in str(caught.value)


@pytest.mark.parametrize(("root", "url"), [
    ("s3://bucket/models/", "s3://bucket/models"),
    (Path("s3://bucket/models"), "s3://bucket/models"),  # Path() keeps one slash: still the URL
    ("gcs://b/p", "gcs://b/p"),
    ("saved_models", None),
    ("file:///tmp/saved_models", None),
    ("C:/models", None),
])
def test_root_url_tells_urls_from_paths(root: object, url: str | None) -> None:
    assert root_url(root) == url


def test_a_url_root_has_one_id_on_every_host(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    with _host(s3_root, postgres_db_url, tmp_path, "a") as a, _host(s3_root, postgres_db_url, tmp_path, "b") as b:
        assert a.root != b.root and a.root_id() == b.root_id() == b.reading_root()
        assert a.url == s3_root


def test_commit_uploads_every_file_then_the_marker(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    a = _host(s3_root, postgres_db_url, tmp_path, "a")
    record = commit_version(a)
    local = {p.relative_to(a.root).as_posix(): p.read_bytes() for p in record.path.rglob("*") if p.is_file()}
    stored = _objects(s3_root)
    assert stored == local  # every file, the manifest and the complete marker; nothing else
    assert b'"state": "complete"' in stored[f"{KEY.relative_dir}/v1/status.json"]
    b = _host(s3_root, postgres_db_url, tmp_path, "b", read_only=True)  # another host: only the registry and S3
    assert [(r.identifier, r.version, r.status) for r in b.list()] == [(KEY.identifier, 1, "complete")]
    fetched = b.get(KEY.identifier, "latest")
    assert fetched.path.is_relative_to(b.root) and fetched.path.is_dir()
    state_dict, metadata = load_model(fetched.path)
    assert float(state_dict["w"][0, 0]) == 1.0 and metadata["archive"]["version"] == 1
    assert b.verify(KEY.identifier, 1) == []
    assert commit_version(a).version == 2 and b.get(KEY.identifier, "latest").version == 2
    a.close()
    b.close()


def test_verify_catches_a_tampered_object(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    a = _host(s3_root, postgres_db_url, tmp_path, "a")
    commit_version(a)
    prefix = f"{s3_root.removeprefix('s3://')}/{KEY.relative_dir}/v1"
    fs = _fs()
    weights = fs.cat_file(f"{prefix}/model.pth")
    fs.pipe_file(f"{prefix}/model.pth", weights[:-1] + bytes([weights[-1] ^ 0xFF]))
    fs.pipe_file(f"{prefix}/extra.bin", b"added after commit")
    fs.rm_file(f"{prefix}/checkpoint_epoch_1.pth")
    b = _host(s3_root, postgres_db_url, tmp_path, "b", read_only=True)
    problems = b.verify(KEY.identifier, 1)
    assert any(p.startswith("model.pth was changed") for p in problems), problems
    assert "extra.bin is not in the manifest (added after commit)" in problems
    assert "checkpoint_epoch_1.pth is missing" in problems
    assert a.verify(KEY.identifier, 1) != []  # the writer's host reads the store too, not its own copy
    with pytest.raises(ManifestMismatchError, match="model.pth was changed after commit"):
        load_model(b.get(KEY.identifier, 1).path)  # tampered_model_is_refused_before_torch_load, on S3
    a.close()
    b.close()


def test_uploads_stream_from_disk(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    a = _host(s3_root, postgres_db_url, tmp_path, "a")
    directory = a.root / "product" / "P009_all" / "mlstm" / "v1"
    directory.mkdir(parents=True)
    (directory / "warm.bin").write_bytes(b"x")
    a.storage.upload(directory, ["warm.bin"])  # the client is made before memory is traced
    peaks = {}
    for size in (16 << 20, 64 << 20):
        with open(directory / "model.pth", "wb") as fh:
            for _ in range(size >> 20):
                fh.write(os.urandom(1 << 20))
        tracemalloc.start()
        try:
            a.storage.upload(directory, ["model.pth"])
            peaks[size] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert _fs().size(f"{s3_root.removeprefix('s3://')}/product/P009_all/mlstm/v1/model.pth") == size
    shown = {s >> 20: f"{p / 2**20:.1f} MiB" for s, p in peaks.items()}
    assert peaks[64 << 20] < 3.5 * UPLOAD_BLOCK_BYTES < (64 << 20) / 2, shown  # a few parts, never the file
    assert peaks[64 << 20] < 1.25 * peaks[16 << 20], shown  # 4x the file, the same memory
    a.close()


def test_rebuild_of_a_url_root_reads_the_store(s3_root: str, postgres_server, tmp_path: Path) -> None:  # noqa: F811, ANN001
    first = postgres_server.create_database(f"s3r{os.getpid()}a")
    a = _host(s3_root, first, tmp_path, "a")
    commit_version(a)
    commit_version(a)
    a.close()
    fresh = postgres_server.create_database(f"s3r{os.getpid()}b")  # the registry is lost: a new one
    b = _host(s3_root, fresh, tmp_path, "b")
    assert b.list() == []
    result = b.rebuild()
    assert result.rows == 2 and result.versions == {KEY.identifier: 2} and not result.tampered
    assert [(r.version, r.status) for r in b.list()] == [(1, "complete"), (2, "complete")]
    assert b.verify(KEY.identifier, 2) == []
    b.delete(KEY.identifier, 1)  # delete_removes_directory_and_row_consistently, on S3
    assert [r.version for r in b.list()] == [2]
    assert not any(k.startswith(f"{KEY.relative_dir}/v1/") for k in _objects(s3_root))
    assert b.rebuild().rows == 1
    b.close()


def test_every_storage_error_is_a_sentence(s3_server, postgres_db_url: str, tmp_path: Path,  # noqa: F811, ANN001
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures.s3 import s3_environment

    for name, value in s3_environment(s3_server, tmp_path / "cache").items():
        monkeypatch.setenv(name, value)
    with ModelArchive("s3://no-such-bucket-here/models", db_url=postgres_db_url) as archive:
        with pytest.raises(ArchiveError, match=r"^Cannot upload status.json to s3://no-such-bucket-here/models"):
            archive.allocate(KEY)
        assert archive.list() == [] and not (archive.root / KEY.relative_dir / "v1").exists()  # nothing half-made
    closed = s3_server.endpoint.rsplit(":", 1)[0] + f":{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed.replace("http://", "http://AKIAUSER:topsecret@"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with ModelArchive("s3://any-bucket/models", db_url=postgres_db_url) as archive:
        with pytest.raises(ArchiveError, match=r"through http://\*\*\*@127\.0\.0\.1") as caught:
            archive.rebuild()
    assert "topsecret" not in str(caught.value) and "AKIAUSER" not in str(caught.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_version_url_is_read_from_its_local_copy(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    from curvewatch.archive import local_copy

    with _host(s3_root, postgres_db_url, tmp_path, "a") as a:
        commit_version(a)
    version_url = f"{s3_root}/{KEY.relative_dir}/v1"
    directory = local_copy(version_url, cache_dir=tmp_path / "host-b")
    assert directory.as_posix().endswith(f"/{KEY.relative_dir}/v1") and (directory / "model.pth").is_file()
    assert load_model(directory)[1]["archive"]["version"] == 1
    curves = local_copy(Path(f"{version_url}/curves.json"), cache_dir=tmp_path / "host-b")  # as argparse's Path
    assert curves == directory / "curves.json" and curves.is_file()
    assert local_copy("saved_models/product/P001_all/mlstm/v1") == Path("saved_models/product/P001_all/mlstm/v1")
    with pytest.raises(ArchiveError, match=r"is not a version of an archive"):
        local_copy(f"{s3_root}/{KEY.relative_dir}", cache_dir=tmp_path / "host-b")


def test_checkout_mirrors_the_object_store(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    a = _host(s3_root, postgres_db_url, tmp_path, "a")
    b = _host(s3_root, postgres_db_url, tmp_path, "b")
    record = commit_version(a)
    directory = b.checkout(KEY, 1, fresh=True)
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in record.path.iterdir())
    assert b.checkout(KEY, 1, digest=record.manifest_sha256) == directory  # current: not fetched again
    _fs().rm(f"{s3_root.removeprefix('s3://')}/{KEY.relative_dir}/v1", recursive=True)
    assert not b.checkout(KEY, 1, fresh=True).exists()  # gone from the store: gone from the copy
    writing = a.allocate(KEY)  # reserved: this host is writing it
    (writing.path / "model.pth").write_bytes(b"being written")
    assert a.checkout(KEY, writing.version, fresh=True) == writing.path
    assert (writing.path / "model.pth").read_bytes() == b"being written"  # never replaced by the store's copy
    a.close()
    b.close()


@pytest.mark.parametrize(("env", "expected"), [
    ({"CURVEWATCH_CACHE_DIR": "/data/cw-cache", "XDG_CACHE_HOME": "/x"}, "/data/cw-cache"),
    ({"XDG_CACHE_HOME": "/x"}, "/x/curvewatch"),
    ({"HOME": "/home/u"}, "/home/u/.cache/curvewatch"),
])
def test_a_url_root_is_cached_where_the_environment_says(env: dict[str, str], expected: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from curvewatch.archive.settings import default_cache_dir

    for name in ("CURVEWATCH_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert default_cache_dir() == Path(expected)


def test_a_users_loop_commits_to_a_url_root(s3_root: str, postgres_db_url: str, tmp_path: Path) -> None:  # noqa: F811
    import curvewatch
    import torch

    model = torch.nn.Linear(4, 1)
    with curvewatch.RunTracker("s3-loop", model_type="linear", root=s3_root, db_url=postgres_db_url,
                               serve=False) as run:
        for epoch in range(1, 4):
            run.log(train_loss=1.0 / epoch)
            run.epoch_end(epoch, model, val_loss=2.0 / epoch)  # checkpoints into this host's cache
        record = run.finish(model)
    stored = _objects(s3_root)
    prefix = "experiments/s3-loop/linear/v1/"
    assert {"model.pth", "checkpoint_best.pth", "manifest.json", "status.json"} <= {
        k.removeprefix(prefix) for k in stored if k.startswith(prefix)}
    with _host(s3_root, postgres_db_url, tmp_path, "b", read_only=True) as b:
        assert b.verify(record.identifier, record.version) == []
