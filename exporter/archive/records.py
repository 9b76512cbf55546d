"""Small typed records: the handle a trainer writes through, and a registry row as a record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .naming import (
    CHECKPOINT_BEST_FILE,
    CHECKPOINT_EPOCH_FILE,
    MODEL_FILE,
    RUN_ID_FORMAT,
    ModelKey,
    archive_path,
)

__all__ = ["VersionHandle", "VersionRecord"]


@dataclass(frozen=True)
class VersionHandle:
    """A reserved version: where the trainer writes, until ``archive.commit(handle, ...)``.

    >>> handle = archive.allocate(ModelKey.product("P001", model_type="mlstm"))
    >>> handle.run_id                      # 'product_P001_all_mlstm-v3'
    >>> atomic_torch_save(model.state_dict(), handle.model_path)
    """

    root: Path
    key: ModelKey
    version: int

    @property
    def path(self) -> Path:
        """The version directory."""
        return archive_path(self.root, self.key, self.version)

    @property
    def identifier(self) -> str:
        """The model identifier, e.g. ``product_P001_all_mlstm``."""
        return self.key.identifier

    @property
    def run_id(self) -> str:
        """``{identifier}-v{version}``: the run's name in Prometheus labels and logs."""
        return RUN_ID_FORMAT.format(identifier=self.identifier, version=self.version)

    @property
    def model_path(self) -> Path:
        """Where the final model's ``state_dict`` goes (``model.pth``)."""
        return archive_path(self.root, self.key, self.version, MODEL_FILE)

    @property
    def best_checkpoint_path(self) -> Path:
        """Where the best checkpoint goes (``checkpoint_best.pth``)."""
        return archive_path(self.root, self.key, self.version, CHECKPOINT_BEST_FILE)

    def checkpoint_path(self, epoch: int) -> Path:
        """Where the periodic checkpoint of ``epoch`` goes (``checkpoint_epoch_{epoch}.pth``)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}.")
        return archive_path(self.root, self.key, self.version, CHECKPOINT_EPOCH_FILE.format(epoch=epoch))


@dataclass(frozen=True)
class VersionRecord:
    """One row of ``model_versions``, with the absolute ``path`` of its directory."""

    identifier: str
    model_type: str
    version: int
    model_path: str  # relative to the archive root
    path: Path
    created_at: dt.datetime
    status: str
    metrics_summary: dict[str, Any] = field(default_factory=dict)
    best_step: int | None = None
    manifest_sha256: str | None = None
    curves: dict[str, Any] | None = field(default=None, repr=False)  # the curves document; None in list() results
    id: int | None = None

    @property
    def key(self) -> ModelKey:
        """The model key of this version."""
        return ModelKey.parse(self.identifier)

    @property
    def run_id(self) -> str:
        """``{identifier}-v{version}``."""
        return RUN_ID_FORMAT.format(identifier=self.identifier, version=self.version)

    @classmethod
    def from_row(cls, root: Path, row: dict[str, Any]) -> VersionRecord:
        """The record of a registry row."""
        return cls(
            identifier=row["model_identifier"],
            model_type=row["model_type"],
            version=row["version"],
            model_path=row["model_path"],
            path=Path(root, *row["model_path"].split("/")),
            created_at=row["created_at"],
            status=row["status"],
            metrics_summary=row.get("metrics_summary") or {},
            best_step=row.get("best_step"),
            manifest_sha256=row.get("manifest_sha256"),
            curves=row.get("curves"),
            id=row.get("id"),
        )

    def to_json(self, with_curves: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (for ``--json``); the curves only if asked."""
        out = {
            "identifier": self.identifier,
            "model_type": self.model_type,
            "version": self.version,
            "run_id": self.run_id,
            "status": self.status,
            "model_path": self.model_path,
            "path": str(self.path),
            "created_at": self.created_at.isoformat(),
            "metrics_summary": self.metrics_summary,
            "best_step": self.best_step,
            "manifest_sha256": self.manifest_sha256,
        }
        if with_curves:
            out["curves"] = self.curves
        return out
