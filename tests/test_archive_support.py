"""Helpers shared by the archive tests (no tests here): a real recorder and a committed version."""

from __future__ import annotations

import math
from pathlib import Path

from curvewatch.archive import ModelArchive, ModelKey, VersionRecord, atomic_torch_save
from curvewatch.recorder import CurveRecorder

KEY = ModelKey.product("P001", scope="all", model_type="mlstm")


def make_recorder(steps: int = 50, best_at: int = 30) -> CurveRecorder:
    """A real recorder with a loss chart whose val_loss is lowest at ``best_at``."""
    rec = CurveRecorder(budget=64)
    rec.chart("loss", ["train_loss", "val_loss"])
    rec.track_best("val_loss", mode="min")
    for step in range(steps):
        rec.log(step, train_loss=1.0 / (step + 1), val_loss=1.0 + abs(step - best_at) / 10)
    rec.log(steps, train_loss=math.nan)
    return rec


def commit_version(archive: ModelArchive, key: ModelKey = KEY, val_loss: float = 1.0) -> VersionRecord:
    """Allocate, write a model and a checkpoint, and commit with a real recorder."""
    import torch  # here, so that processes importing this module for make_recorder start fast

    handle = archive.allocate(key)
    atomic_torch_save({"w": torch.full((2, 2), float(handle.version))}, handle.model_path)
    atomic_torch_save({"epoch": 1}, handle.checkpoint_path(1))
    return archive.commit(
        handle,
        make_recorder(),
        metadata={"params": {"lr": 0.01}, "scaler": {"mean": 1.5}},
        metrics_summary={"val_loss": val_loss},
    )


def archive_with(base: Path, *keys: ModelKey) -> Path:
    """``base`` holding a root ``saved_models`` (and its SQLite registry) with one committed version per key."""
    with ModelArchive(base / "saved_models") as archive:
        for key in keys:
            commit_version(archive, key)
    return base


def tamper(path: Path) -> None:
    """Flip the last byte of a file."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
