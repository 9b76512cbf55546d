"""``curvewatch versions list|show|verify|rebuild|delete``: tables for people, --json for scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive
from curvewatch.cli import main
from test_archive_support import KEY, commit_version, tamper


@pytest.fixture
def archive(tmp_path: Path, registry_db_url: str) -> ModelArchive:
    archive = ModelArchive(tmp_path / "saved_models", db_url=registry_db_url)
    commit_version(archive, val_loss=0.25)
    archive.allocate(KEY)
    yield archive
    archive.close()


def _cli(archive: ModelArchive, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["versions", *argv, "--root", str(archive.root), "--db-url", archive.db_url])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_prints_a_table_and_json(archive: ModelArchive, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(archive, capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "IDENTIFIER",
        "VERSION",
        "STATUS",
        "MODEL_TYPE",
        "CREATED_AT",
        "BEST_STEP",
        "METRICS",
    ]
    assert lines[1].split()[:3] == [KEY.identifier, "1", "complete"] and "val_loss=0.25" in lines[1]
    assert lines[2].split()[:3] == [KEY.identifier, "2", "reserved"]
    code, out, _ = _cli(archive, capsys, "list", "--status", "complete", "--json")
    rows = json.loads(out)
    assert code == 0 and [(r["version"], r["best_step"]) for r in rows] == [(1, 30)]


def test_show_gives_the_latest_complete_version(archive: ModelArchive, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(archive, capsys, "show", KEY.identifier, "--json", "--curves")
    shown = json.loads(out)
    assert code == 0 and shown["version"] == 1 and shown["curves"]["best"]["step"] == 30
    code, out, _ = _cli(archive, capsys, "show", KEY.identifier, "2")
    assert code == 0 and "status:" in out and "reserved" in out


def test_verify_exits_1_and_lists_every_problem(archive: ModelArchive, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(archive, capsys, "verify", KEY.identifier)[:2] == (0, f"{KEY.identifier} v1: ok\n")
    path = archive.get(KEY.identifier, 1).path
    tamper(path / "model.pth")
    tamper(path / "metadata.json")
    code, out, _ = _cli(archive, capsys, "verify", "--all", "--json")
    report = json.loads(out)
    assert code == 1 and len(report) == 1 and not report[0]["ok"]
    assert sum("was changed" in p for p in report[0]["problems"]) == 2
    code, out, _ = _cli(archive, capsys, "verify", KEY.identifier, "1")
    assert code == 1 and "problem(s)" in out and "  - model.pth was changed" in out


def test_rebuild_and_delete(archive: ModelArchive, capsys: pytest.CaptureFixture[str]) -> None:
    (archive.root / "versions.json").write_text("garbage")
    code, _, err = _cli(archive, capsys, "list")  # list reads the table: still works
    assert code == 0
    code, out, _ = _cli(archive, capsys, "rebuild", "--json")
    assert code == 0 and json.loads(out) == {
        "versions": {KEY.identifier: 2}, "rows": 2, "skipped": [], "unreadable": [], "conflicts": [],
        "tampered": []
    }
    code, out, err = _cli(archive, capsys, "delete", KEY.identifier, "2")
    assert code == 2 and "pass --force" in err
    code, out, _ = _cli(archive, capsys, "delete", KEY.identifier, "2", "--force")
    assert code == 0 and out == f"Deleted {KEY.identifier} v2 (directory and row).\n"
    assert [r.version for r in archive.list()] == [1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "product_P1_all"], "identifier 'product_P1_all' is not allowed"),
        (["show", KEY.identifier, "7"], "has no version 7; see `curvewatch versions list`"),
        (["show", KEY.identifier, "seven"], "VERSION must be an integer or 'latest'"),
        (["verify"], "give an IDENTIFIER [VERSION], or --all"),
    ],
)
def test_errors_say_what_to_do(
    archive: ModelArchive, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = _cli(archive, capsys, *argv)
    assert code == 2 and message in err


def test_missing_root_is_an_error_that_names_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["versions", "list", "--root", str(tmp_path / "typo")]) == 2
    assert "no archive at" in capsys.readouterr().err and not (tmp_path / "typo").exists()
    assert not list(tmp_path.iterdir())


def test_console_entry_point_runs_in_a_real_process(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    with ModelArchive(root) as archive:
        commit_version(archive)
    done = subprocess.run(
        [sys.executable, "-m", "curvewatch", "versions", "verify", KEY.identifier, "--root", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"identifier": KEY.identifier, "version": 1, "ok": True, "problems": []}]
