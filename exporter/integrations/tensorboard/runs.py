"""Runs in a TensorBoard logdir: every directory holding event files is one run, as TensorBoard shows it.

    find_runs("logs")            # {"version_0": Path("logs/version_0"), "lr-0.1/seed-1": ...}
    run_id_for("logs", path)     # "lr-0.1/seed-1": the run's directory relative to the logdir

The run's name (and the ``run_id`` label of its gauges) is its directory relative to the logdir with
``/`` between parts; event files directly in the logdir make the run named after the logdir itself.
Event files of one run are read in name order (their names start with the creation time).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import TensorBoardInputError
from .events import is_event_file

__all__ = ["check_logdir", "event_files", "find_runs", "run_id_for"]


def check_logdir(logdir: str | os.PathLike[str]) -> Path:
    """``logdir`` as a Path, or a sentence when it is missing or not a directory."""
    path = Path(logdir)
    if not path.exists():
        raise TensorBoardInputError(f"The logdir {path} does not exist; pass the directory TensorBoard would "
                                    "be started with (tensorboard --logdir DIR).")
    if not path.is_dir():
        raise TensorBoardInputError(f"{path} is a file, not a logdir; pass the directory that holds the runs.")
    return path


def run_id_for(logdir: Path, run_dir: Path) -> str:
    rel = run_dir.relative_to(logdir).as_posix()
    if rel == ".":
        return logdir.resolve().name or "root"
    return rel


def event_files(run_dir: Path) -> list[Path]:
    """The run's event files, oldest first (the name begins with the creation time)."""
    try:
        names = sorted(e.name for e in os.scandir(run_dir) if e.is_file() and is_event_file(e.name))
    except OSError:
        return []
    return [run_dir / name for name in names]


def find_runs(logdir: str | os.PathLike[str]) -> dict[str, Path]:
    """``{run_id: run directory}`` for every directory under ``logdir`` that holds an event file."""
    root = check_logdir(logdir)
    runs: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if any(is_event_file(name) for name in filenames):
            runs[run_id_for(root, Path(dirpath))] = Path(dirpath)
    return runs
