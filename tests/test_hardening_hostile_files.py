"""Hostile archive files: every (file x corruption x command) ends in a sentence and a non-zero exit, never
an exception, and the other version's files and verification are untouched (issue 16, failures 3 and 8).

The archive holds two complete versions of two identifiers on real files and a real SQLite registry; each
case copies it, corrupts one file of the first version, runs the command in-process (an exception would
fail the test, as a traceback would fail the user) and checks the second version byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive, ModelKey
from curvewatch.cli import main
from test_archive_support import archive_with

VICTIM = ModelKey.product("P001", scope="all", model_type="mlstm")
BYSTANDER = ModelKey.store("S001", scope="all", model_type="tcn")

CORRUPTIONS = {
    "deep_nesting": b"[" * 100_000,
    "invalid_utf8": b'{"a": "\xff\xfe"}',
    "nan_literal": b'{"a": NaN}',
    "overflowing_float": b'{"a": 1e400}',
    "huge_integer": b'{"a": ' + b"9" * 5000 + b"}",
    "truncated": b'{"a": [1, 2',
    "empty": b"",
}
FILES = ("versions.json", "curves.json", "metadata.json", "status.json", "manifest.json")
COMMANDS = {
    "verify_all": ["verify", "--all"],
    "verify_one": ["verify", VICTIM.identifier, "1"],
    "rebuild": ["rebuild"],
    "show": ["show", VICTIM.identifier, "1"],
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return archive_with(tmp_path_factory.mktemp("pristine"), VICTIM, BYSTANDER)


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _copy(pristine: Path, tmp_path: Path) -> Path:
    shutil.copytree(pristine, tmp_path / "archive")
    return tmp_path / "archive" / "saved_models"


def _versions(root: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["versions", *argv, "--root", str(root)])
    out, err = capsys.readouterr()
    return code, out, err


def _target(root: Path, name: str) -> Path:
    if name == "versions.json":
        return root / name
    return root / VICTIM.relative_dir / "v1" / name


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("name", FILES)
def test_hostile_file_gives_a_sentence_and_harms_no_other_version(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, corruption: str, command: str
) -> None:
    root = _copy(pristine, tmp_path)
    bystander = root / BYSTANDER.relative_dir / "v1"
    before = _digests(bystander)
    _target(root, name).write_bytes(CORRUPTIONS[corruption])

    code, out, err = _versions(root, capsys, *COMMANDS[command])

    if command == "show":
        assert code == 0  # show reads the table only: the corrupt file is verify's business
    elif command == "rebuild" and name == "versions.json":
        assert code == 0  # versions.json is rebuilt from the tree (a broken manifest: indexed as tampered)
    else:
        assert code in (1, 2), (out, err)
        text = out + err
        assert name in text or "versions.json" in text, text  # the sentence names the file
    assert "Traceback" not in out + err
    assert _digests(bystander) == before
    code, out, err = _versions(root, capsys, "verify", BYSTANDER.identifier, "1")
    assert (code, out.strip()) == (0, f"{BYSTANDER.identifier} v1: ok") or name == "versions.json", (out, err)


@pytest.mark.parametrize("corruption", ["deep_nesting", "invalid_utf8", "nan_literal"])
def test_verify_all_reports_every_version_past_broken_ones(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], corruption: str
) -> None:
    root = _copy(pristine, tmp_path)
    _target(root, "curves.json").write_bytes(CORRUPTIONS[corruption])
    code, out, _ = _versions(root, capsys, "verify", "--all", "--json")
    report = {item["identifier"]: item for item in json.loads(out)}
    assert code == 1 and set(report) == {VICTIM.identifier, BYSTANDER.identifier}
    assert report[BYSTANDER.identifier]["ok"] and not report[VICTIM.identifier]["ok"]
    assert any("curves.json is not valid JSON" in p for p in report[VICTIM.identifier]["problems"])


def test_rebuild_repairs_what_it_can_and_names_what_it_cannot(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy(pristine, tmp_path)
    (root / "versions.json").write_bytes(CORRUPTIONS["deep_nesting"])
    _target(root, "curves.json").write_bytes(CORRUPTIONS["deep_nesting"])
    code, out, _ = _versions(root, capsys, "rebuild", "--json")
    result = json.loads(out)
    assert code == 1 and result["rows"] == 2
    assert result["versions"] == {VICTIM.identifier: 1, BYSTANDER.identifier: 1}
    assert len(result["unreadable"]) == 1 and "curves.json" in result["unreadable"][0]
    assert "nests 100000 levels deep" in result["unreadable"][0]


def test_hostile_files_never_print_a_traceback_from_the_real_command(pristine: Path, tmp_path: Path) -> None:
    root = _copy(pristine, tmp_path)
    (root / "versions.json").write_bytes(CORRUPTIONS["deep_nesting"])
    _target(root, "status.json").write_bytes(CORRUPTIONS["invalid_utf8"])
    for argv in (["verify", "--all"], ["rebuild"], ["list"]):
        done = subprocess.run(
            [sys.executable, "-m", "curvewatch", "versions", *argv, "--root", str(root)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert "Traceback" not in done.stderr and done.returncode in (0, 1, 2), done.stderr
    assert done.returncode == 0  # list reads the table: rebuild re-indexed both versions


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"product_P001_all_mlstm": 999999999}', "has reached version 999999999"),
        (b'{"product_P001_all_mlstm": 1000000000000}', "integers from 1 to 999999999"),
        (b'{"product_P001_all_mlstm": 1000000000000000000000000000000}', "integers from 1 to 999999999"),
        (b'{"product_P001_all_mlstm": 1' + b"0" * 400 + b"}", "more than 308 digits"),
        (b'{"product_P001_all_mlstm": 1e400}', "too large for a 64-bit float"),
    ],
)
def test_versions_past_the_nine_digit_pattern_are_refused(
    pristine: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    from curvewatch.archive import ArchiveError

    root = _copy(pristine, tmp_path)
    (root / "versions.json").write_bytes(content)
    key_dir = root / VICTIM.relative_dir
    before = sorted(p.name for p in key_dir.iterdir())
    with ModelArchive(root) as archive, pytest.raises(ArchiveError, match=message):
        archive.allocate(VICTIM)
    assert sorted(p.name for p in key_dir.iterdir()) == before  # no directory made
    assert (root / "versions.json").read_bytes() == content  # and versions.json unchanged


@pytest.mark.parametrize("argv", [
    ["show", VICTIM.identifier, "99999999999999999999999"],
    ["verify", VICTIM.identifier, "99999999999999999999999"],
    ["delete", VICTIM.identifier, "99999999999999999999999"],
    ["delete", VICTIM.identifier, "-1"],
])
def test_out_of_range_versions_on_the_command_line_are_sentences(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    root = _copy(pristine, tmp_path)
    code, _, err = _versions(root, capsys, *argv)
    assert code == 2 and "VERSION must be an integer" in err and "a whole number from 1 to 999999999" in err


@pytest.mark.parametrize(("db_url", "message"), [
    ("nonsense", "is not a database URL"),
    ("foo://", "does not support"),
    ("sqlite://", "names no SQLite file"),
    ("postgresql+psycopg://nobody@127.0.0.1:1/db", "cannot be used"),
])
def test_bad_db_urls_are_sentences(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str, message: str
) -> None:
    root = _copy(pristine, tmp_path)
    code = main(["versions", "list", "--root", str(root), "--db-url", db_url])
    assert code == 2 and message in capsys.readouterr().err


def test_read_only_commands_never_write(pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy(pristine, tmp_path)
    missing = tmp_path / "nonexistent" / "dir"
    code = main(["versions", "show", VICTIM.identifier, "--root", str(root), "--db-url", f"sqlite:///{missing}/x.db"])
    assert code == 2 and "no registry at" in capsys.readouterr().err
    assert not (tmp_path / "nonexistent").exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for argv in (["list"], ["show", VICTIM.identifier], ["verify", "--all"]):
        code = main(["versions", *argv, "--root", str(fresh)])
        assert code == 2 and "no registry at" in capsys.readouterr().err
    assert list(fresh.iterdir()) == [] and not (tmp_path / "curvewatch_registry.sqlite3").exists()
    tree = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert _versions(root, capsys, "verify", "--all")[0] == 0
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == tree


@pytest.mark.parametrize("lock", ["saved_models/versions.json.lock", "curvewatch_registry.sqlite3.lock"])
@pytest.mark.parametrize("target", ["elsewhere", "itself"])  # itself: a loop (ELOOP)
def test_a_symlinked_lock_is_refused_with_a_sentence(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], lock: str, target: str
) -> None:
    root = _copy(pristine, tmp_path)
    link = root.parent / lock
    (tmp_path / "elsewhere").write_text("")
    link.unlink(missing_ok=True)
    link.symlink_to(link if target == "itself" else tmp_path / "elsewhere")
    code, _, err = _versions(root, capsys, "rebuild")
    assert code == 2 and "Cannot take the archive lock" in err and "symbolic link" in err


def test_a_scope_of_the_wrong_type_is_an_identifier_error() -> None:
    from curvewatch.archive import IdentifierError

    with pytest.raises(IdentifierError, match="scope 5 is not allowed"):
        ModelKey.global_(scope=5, aggregation="sum", model_type="mlp")  # type: ignore[arg-type]


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_serve_refuses_a_hostile_curves_document_with_a_sentence(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], corruption: str
) -> None:
    root = _copy(pristine, tmp_path)
    path = _target(root, "curves.json")
    path.write_bytes(CORRUPTIONS[corruption])
    assert main(["serve", str(path), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("curvewatch serve: ") and "curves" in err and err.count("\n") == 1, err
