"""Every command on an ``s3://`` root: train, versions list/show/verify/rebuild/delete, predict, report, compare
and serve, against moto.server on 127.0.0.1 and the suite's PostgreSQL; and no credential in what they write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from curvewatch.cli import main
from fixtures.s3 import S3_ENV, s3_root, s3_server  # noqa: F401 - pytest fixtures

FAST = ["--quick", "--epochs", "2", "--lookback", "14", "--horizon", "3", "--quiet", "--no-serve"]
ID = "product_P001_all_kan"
_SERVE_TIMEOUT_S = 60
SESSION_TOKEN = "session-token-not-to-be-written"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _train(capsys: pytest.CaptureFixture[str], root: str, db_url: str) -> str:
    code, out, err = _cli(capsys, "train", "--model", "kan", "--product", "P001", "--root", root, "--db-url", db_url,
                          *FAST)
    assert code == 0, err
    return out + err


def _stored_bytes(url: str) -> dict[str, bytes]:
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    base = url.removeprefix("s3://")
    return {key: fs.cat_file(key) for key in fs.find(base)}


def test_every_cli_runs_against_the_s3_root(s3_root: str, postgres_db_url: str, tmp_path: Path,  # noqa: F811
                                            capsys: pytest.CaptureFixture[str]) -> None:
    db = ["--root", s3_root, "--db-url", postgres_db_url]
    _train(capsys, s3_root, postgres_db_url)
    _train(capsys, s3_root, postgres_db_url)
    code, out, _ = _cli(capsys, "versions", "list", *db, "--json")
    assert code == 0 and [(r["identifier"], r["version"], r["status"]) for r in json.loads(out)] == [
        (ID, 1, "complete"), (ID, 2, "complete")]
    code, out, _ = _cli(capsys, "versions", "show", ID, "1", *db, "--json")
    assert code == 0 and json.loads(out)["provenance"]["recorded_at"]
    assert json.loads(out)["url"] == f"{s3_root}/product/P001_all/kan/v1"  # where it lives; path: this host's copy
    code, out, _ = _cli(capsys, "versions", "show", ID, "1", *db)
    assert code == 0 and f"url:              {s3_root}/product/P001_all/kan/v1" in out.splitlines()
    code, out, _ = _cli(capsys, "versions", "verify", "--all", *db)
    assert code == 0 and out.splitlines() == [f"{ID} v1: ok", f"{ID} v2: ok"]
    code, out, _ = _cli(capsys, "predict", "--version-path", f"{s3_root}/product/P001_all/kan/v2", "--days", "3",
                        "--json")
    assert code == 0 and len(json.loads(out)["sales"]) == 3
    code, out, err = _cli(capsys, "report", f"{ID}:2", *db, "--out", str(tmp_path / "report.html"))
    assert code == 0 and "manifest intact" in out and (tmp_path / "report.html").stat().st_size > 10_000, err
    code, out, err = _cli(capsys, "compare", f"{ID}:1", f"{ID}:2", *db, "--out", str(tmp_path / "compare.png"))
    assert code == 0 and (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG", err
    _serves_the_version(f"{s3_root}/product/P001_all/kan/v2/curves.json", f'run_id="{ID}-v2"')
    code, out, _ = _cli(capsys, "versions", "delete", ID, "1", *db)
    assert code == 0 and out.startswith(f"Deleted {ID} v1")
    code, out, _ = _cli(capsys, "versions", "rebuild", *db, "--json")
    assert code == 0 and json.loads(out)["rows"] == 1
    code, out, _ = _cli(capsys, "versions", "list", *db, "--json")
    assert [r["version"] for r in json.loads(out)] == [2]


def _serves_the_version(url: str, label: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "curvewatch", "serve", url, "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + _SERVE_TIMEOUT_S
        line = process.stdout.readline()  # "Serving 1 run(s) on http://127.0.0.1:PORT (Ctrl-C to stop)"
        assert line.startswith("Serving 1 run(s) on "), (line, process.stderr.read() if process.poll() else "")
        endpoint = line.split(" on ", 1)[1].split()[0]
        while True:
            body = requests.get(f"{endpoint.rstrip('/')}/metrics", timeout=5).text
            if label in body or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert label in body and "curvewatch_" in body
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(_SERVE_TIMEOUT_S)
        process.stdout.close()
        process.stderr.close()


def test_a_url_root_without_registry_is_a_sentence(s3_root: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    for argv in (["versions", "list", "--root", s3_root], ["versions", "rebuild", "--root", s3_root],
                 ["report", f"{ID}:1", "--root", s3_root]):
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and "has no lock" in err and "Traceback" not in err, argv


def test_no_credential_in_metadata_logs_or_rows(s3_root: str, postgres_db_url: str, tmp_path: Path,  # noqa: F811
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import sqlalchemy as sa

    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)  # moto accepts any; it must be written nowhere
    logs = _train(capsys, s3_root, postgres_db_url)
    code, out, err = _cli(capsys, "versions", "show", ID, "--root", s3_root, "--db-url", postgres_db_url, "--json")
    logs += out + err
    secrets = [S3_ENV["AWS_SECRET_ACCESS_KEY"], S3_ENV["AWS_ACCESS_KEY_ID"], SESSION_TOKEN]
    stored = _stored_bytes(s3_root)
    assert any(k.endswith("/metadata.json") for k in stored)
    cached = {str(p): p.read_bytes() for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    engine = sa.create_engine(postgres_db_url)
    with engine.connect() as conn:
        rows = json.dumps([dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM model_versions"))],
                          default=str)
    engine.dispose()
    for secret in secrets:
        assert secret not in logs and secret not in rows, secret
        assert not [k for k, v in {**stored, **cached}.items() if secret.encode() in v], secret
