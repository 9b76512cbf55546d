"""``RunTracker``: the same recording, live gauges and archiving for a training loop you wrote yourself.

    from curvewatch.archive import ModelKey
    from curvewatch.trainers import RunTracker

    with RunTracker(ModelKey.product("P001", model_type="mymodel"), root="saved_models") as run:
        print(run.url)                                   # Prometheus scrape URL, live while training
        for epoch in range(1, 21):
            for x, y in loader:
                loss = step(x, y)
                run.step(loss, lr=optimizer.param_groups[0]["lr"])     # tensors as they are, no .item()
            run.epoch_end(epoch, model, val_loss=evaluate(model))      # checkpoint_best.pth on improvement
        run.finish(model, metadata={"hidden": 64})       # model.pth, curves.json, PNG, metadata, manifest

An exception inside the ``with`` marks the version and the run ``failed``; so does leaving the ``with``
normally without ``finish()`` (with a warning in the log: the version would otherwise stay reserved
forever). The endpoint stops at the end.
Metric names and charts are the trainers' (docs/ARCHITECTURE.md): ``train_loss``, ``lr`` per step,
``val_loss`` and any of ``train_mse, val_rmse, val_mae, val_mape, val_r2`` per epoch.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from ._constants import EPOCH_METRICS
from .checkpoint import save_file
from .manager import mark_failed
from .recording import DEFAULT_BUDGET, make_recorder

__all__ = ["RunTracker"]

log = logging.getLogger("curvewatch.trainers")

NOT_FINISHED_REASON = "finish() was not called"


class RunTracker:
    """Allocates a version of ``key`` on enter, exposes the run, saves checkpoints, commits on ``finish``."""

    def __init__(self, key, *, root: str | Path = "saved_models", db_url: str | None = None, archive=None,
                 serve: bool = True, port: int = 0, addr: str = "127.0.0.1", budget: int = DEFAULT_BUDGET,
                 experiment: str = "default", checkpoint_every: int = 0) -> None:
        self.key, self.serve, self.port, self.addr = key, serve, port, addr
        self.experiment, self.checkpoint_every = experiment, checkpoint_every
        self._root, self._db_url, self.archive = Path(root), db_url, archive
        self.recorder = make_recorder(budget)
        self.handle = None
        self.exporter = None
        self.global_step = 0
        self.best_epoch: int | None = None
        self.best_val_loss: float | None = None
        self._finished = False

    @property
    def url(self) -> str | None:
        return None if self.exporter is None else self.exporter.url

    def __enter__(self) -> RunTracker:
        from curvewatch.archive import ModelArchive
        from curvewatch.prom import Exporter, RunInfo

        self.archive = self.archive or ModelArchive(self._root, db_url=self._db_url)
        self.handle = self.archive.allocate(self.key)
        if self.serve:
            scope = "/".join(self.key.scope)
            run = RunInfo(run_id=self.handle.run_id, model_type=self.key.model_type, mode=self.key.mode,
                          scope=scope, version=self.handle.version, experiment=self.experiment)
            self.exporter = Exporter(self.recorder, run=run)
            self.exporter.start(port=self.port, addr=self.addr)
        return self

    def step(self, loss, lr=None, **metrics) -> None:
        """Log one training step's batch loss (tensor or float) and learning rate at the next global step."""
        self.global_step += 1
        extra = {} if lr is None else {"lr": lr}
        self.recorder.log(self.global_step, train_loss=loss, **extra, **metrics)

    def epoch_end(self, epoch: int, model=None, *, val_loss: float, optimizer=None, **metrics) -> bool:
        """Log the epoch metrics at the current step; save checkpoints; return True if ``val_loss`` improved."""
        unknown = set(metrics) - set(EPOCH_METRICS)
        if unknown:
            raise ValueError(f"Unknown epoch metric(s) {sorted(unknown)}; use {', '.join(EPOCH_METRICS)}.")
        val_loss = float(val_loss)
        self.recorder.set_epoch(epoch)
        self.recorder.log(self.global_step, val_loss=val_loss, **metrics)
        improved = math.isfinite(val_loss) and (self.best_val_loss is None or val_loss < self.best_val_loss)
        if improved:
            self.best_epoch, self.best_val_loss = epoch, val_loss
        if model is not None:
            state = {"epoch": epoch, "global_step": self.global_step, "model": model.state_dict(),
                     "optimizer": None if optimizer is None else optimizer.state_dict(),
                     "recorder": self.recorder.state_dict()}
            if improved:
                save_file(state, self.handle.best_checkpoint_path)
            if self.checkpoint_every and epoch % self.checkpoint_every == 0:
                save_file(state, self.handle.checkpoint_path(epoch))
        return improved

    def finish(self, model, metadata: dict | None = None, metrics_summary: dict | None = None):
        """Save model.pth and commit the version (curves, PNG, metadata, manifest); the run is ``finished``."""
        save_file(model.state_dict(), self.handle.model_path)
        summary = {"val_loss": self.best_val_loss, "best_epoch": self.best_epoch, **(metrics_summary or {})}
        record = self.archive.commit(self.handle, self.recorder, metadata=dict(metadata or {}),
                                     metrics_summary=summary)
        self._finished = True
        if self.exporter is not None:
            self.exporter.set_state("finished")
        return record

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self._finished:
                if self.exporter is not None:
                    self.exporter.set_state("failed")
                if exc is None:
                    log.warning("%s: the `with RunTracker(...)` block ended without run.finish(model); "
                                "the version is marked failed.", self.handle.run_id)
                    self.archive.fail(self.handle, NOT_FINISHED_REASON)
                else:
                    mark_failed(self.archive, self.handle, exc)
        finally:
            if self.exporter is not None:
                self.exporter.stop()
