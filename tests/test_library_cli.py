"""CLI polish: --version, counts refused, compact reprs, every `versions` error a sentence, and read-only
commands that create nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import curvewatch
import pytest
import torch
from curvewatch.archive import ModelArchive, ModelKey, VersionRecord
from curvewatch.cli import main

KEY = ModelKey.experiment("cli", model_type="mlp")


def committed(root: Path) -> None:
    with curvewatch.RunTracker(KEY, root=root, serve=False) as run:
        for step in range(300):
            run.log(train_loss=1.0 / (step + 1))
        run.epoch_end(1, val_loss=0.5)
        run.finish(torch.nn.Linear(1, 1))


def tree(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*")}


def test_version_flag_prints_the_installed_version() -> None:
    done = subprocess.run([sys.executable, "-m", "curvewatch", "--version"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"curvewatch {curvewatch.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--quick", "--epochs", "0"],
        ["train", "--quick", "--epochs", "-2"],
        ["train", "--quick", "--batch-size", "0"],
        ["train", "--quick", "--patience", "-1"],
        ["train", "--quick", "--lookback", "0"],
        ["predict", "--version-path", "x", "--days", "0"],
    ],
)
def test_zero_or_negative_counts_are_refused_with_a_sentence(tmp_path, capsys, argv) -> None:
    root = tmp_path / "saved_models"
    with pytest.raises(SystemExit) as done:
        main([*argv, "--no-serve", "--root", str(root)] if argv[0] == "train" else argv)
    err = capsys.readouterr().err
    assert done.value.code == 2 and "must be a whole number of at least" in err and "Traceback" not in err
    assert not root.exists()


def test_version_record_repr_is_compact(tmp_path) -> None:
    root = tmp_path / "saved_models"
    committed(root)
    with ModelArchive(root) as archive:
        record = archive.get(KEY.identifier)
    assert isinstance(record, VersionRecord) and record.curves is not None
    assert "curves" not in repr(record) and len(repr(record)) < 800


@pytest.mark.parametrize("command", ["show", "verify", "delete"])
@pytest.mark.parametrize("number", ["99999999999999999999999", "1000000000", "0", "-1", "1e3", "seven"])
def test_every_versions_subcommand_says_a_sentence_for_out_of_range_numbers(tmp_path, capsys, command, number):
    root = tmp_path / "saved_models"
    committed(root)
    before = tree(tmp_path)
    code = main(["versions", command, KEY.identifier, number, "--root", str(root)])
    err = capsys.readouterr().err
    assert code == 2 and "VERSION must be an integer" in err and "1 to 999999999" in err
    assert err.count("\n") == 1 and tree(tmp_path) == before


@pytest.mark.parametrize("command", [["list"], ["show", KEY.identifier], ["verify", "--all"], ["rebuild"]])
@pytest.mark.parametrize(
    ("db_url", "expected"),
    [
        ("nonsense", "is not a database URL"),
        ("mysql://user@127.0.0.1/db", "needs the Python driver"),
        ("nosuchdb://user@host/db", "does not support"),
        ("postgresql+psycopg://user@127.0.0.1:1/db", "cannot be used"),
    ],
)
def test_every_versions_subcommand_says_a_sentence_for_a_bad_db_url(tmp_path, capsys, command, db_url, expected):
    root = tmp_path / "saved_models"
    root.mkdir()
    code = main(["versions", *command, "--root", str(root), "--db-url", db_url])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "--db-url" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["list"], ["show", KEY.identifier], ["show", KEY.identifier, "1"],
                                     ["verify", "--all"], ["verify", KEY.identifier]])
def test_read_only_commands_create_no_files_or_directories(tmp_path, capsys, command) -> None:
    root = tmp_path / "saved_models"
    root.mkdir()
    missing = tmp_path / "nowhere" / "registry.sqlite3"
    for db in ([], ["--db-url", f"sqlite:///{missing}"]):
        code = main(["versions", *command, "--root", str(root), *db])
        err = capsys.readouterr().err
        assert code == 2 and "no registry at" in err and "versions rebuild" in err
        assert tree(tmp_path) == {"saved_models"}


def test_versions_commands_work_on_an_experiment_key(tmp_path, capsys) -> None:
    root = tmp_path / "saved_models"
    committed(root)
    assert main(["versions", "list", "--root", str(root)]) == 0
    assert KEY.identifier in capsys.readouterr().out
    assert main(["versions", "verify", KEY.identifier, "--root", str(root)]) == 0
    assert capsys.readouterr().out == f"{KEY.identifier} v1: ok\n"
    assert main(["versions", "rebuild", "--root", str(root)]) == 0
    assert "skipped" not in capsys.readouterr().out
    with ModelArchive(root) as archive:
        assert [(r.identifier, r.version, r.status) for r in archive.list()] == [(KEY.identifier, 1, "complete")]


@pytest.mark.parametrize("argv", [["versions", "show", KEY.identifier, "1"], ["versions", "list"],
                                  ["versions", "verify", "--all"]])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    from curvewatch.cli import SIGPIPE_EXIT

    root = tmp_path / "saved_models"
    committed(root)
    extra = ["--root", str(root)]
    # as `curvewatch versions show ... | head -0`: the reader is gone before the first line is written
    with subprocess.Popen([sys.executable, "-m", "curvewatch", *argv, *extra], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == SIGPIPE_EXIT and err == ""
