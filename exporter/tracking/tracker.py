"""``RunTracker``: recording, live gauges and an archived version for a training loop you wrote yourself.

    import curvewatch

    with curvewatch.RunTracker("digits-mlp", model_type="mlp", best="val_acc", mode="max") as run:
        print(run.url)                                  # Prometheus scrape URL, live while training
        run.log_hyperparams({"hidden": 64, "lr": 0.1})  # stored in metadata.json
        for epoch in range(1, 21):
            for x, y in loader:
                run.log(train_loss=step(x, y))          # tensors as they are; automatic step 1, 2, ...
            run.epoch_end(epoch, model, val_loss=vl, val_acc=va)  # checkpoint_best.pth when val_acc improves
        run.finish(model)      # model.pth, curves.json, PNG, metadata, manifest: the version is complete

A name (``"digits-mlp"``) means ``ModelKey.experiment(name, model_type=...)``, i.e.
``saved_models/experiments/digits-mlp/mlp/v{N}/``; any ``ModelKey`` works too.

Guarantees (tests named after them in tests/test_tracking_*.py):
- best_checkpoint_follows_the_chosen_metric_and_mode: ``checkpoint_best.pth`` is written at each epoch whose
  ``best`` metric is better (``mode``) than every earlier one; NaN/inf never count as better.
- leaving_without_finish_marks_the_version_failed: an exception inside the ``with``, ``run.fail(reason)`` or
  leaving without ``finish()`` marks the version and the run ``failed`` (with a warning in the last case).
- one_run_is_one_version_under_torchrun: only rank 0 allocates, writes and commits; every rank labels its
  series with rank 0's run id (see ``distributed``).
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .charts import Chart, ChartPlanner
from .checkpoints import copy_checkpoint, save_checkpoint, state_dict_from_checkpoint, state_dict_of
from .distributed import share_run_id
from .metadata import jsonable, run_metadata

__all__ = ["DEFAULT_BUDGET", "DEFAULT_MODEL_TYPE", "NOT_FINISHED_REASON", "RunTracker"]

log = logging.getLogger("curvewatch.tracking")

DEFAULT_BUDGET = 1000
DEFAULT_MODEL_TYPE = "model"
NOT_FINISHED_REASON = "finish() was not called"
_BETTER = {"min": operator.lt, "max": operator.gt}


class RunTracker:
    """Allocates a version on ``start()`` (or ``with``), exposes the run, saves checkpoints, commits on ``finish``."""

    def __init__(self, key: Any, *, model_type: str | None = None, root: str | Path | None = None,
                 db_url: str | None = None, archive: Any = None, best: str = "val_loss", mode: str = "min",
                 charts: Iterable[Chart | Mapping[str, Any]] | None = None, budget: int = DEFAULT_BUDGET,
                 serve: bool = True, port: int = 0, addr: str = "127.0.0.1", ranks: str = "all",
                 hparams: Mapping[str, Any] | None = None, checkpoint_every: int = 0,
                 data_files: Iterable[str | Path] = (), resumed_from: str | Path | None = None,
                 serve_options: Mapping[str, Any] | None = None) -> None:
        from curvewatch.archive import ModelKey
        from curvewatch.archive.settings import default_db_url, default_root
        from curvewatch.prom.ranks import check_ranks
        from curvewatch.prom.run_info import rank_from_env
        from curvewatch.recorder import CurveRecorder

        if isinstance(key, str):
            key = ModelKey.experiment(key, model_type=model_type or DEFAULT_MODEL_TYPE)
        elif not isinstance(key, ModelKey):
            raise TypeError(f"RunTracker takes an experiment name or a ModelKey, got {type(key).__name__}.")
        elif model_type is not None and model_type != key.model_type:
            raise ValueError(f"model_type={model_type!r} differs from the key's {key.model_type!r}; pass one.")
        if mode not in _BETTER:
            raise ValueError(f"`mode` can be {', '.join(_BETTER)}, got {mode!r}.")
        if not isinstance(best, str) or not best:
            raise ValueError(f"`best` must be a metric name, got {best!r}.")
        if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer >= 0 (0: never), got {checkpoint_every!r}.")
        self.key, self.best, self.mode = key, best, mode
        self.serve, self.port, self.addr, self.ranks = serve, port, addr, check_ranks(ranks)
        self.serve_options = _serve_options(serve_options)
        self.checkpoint_every = checkpoint_every
        self.rank = _rank(rank_from_env)
        self._root = Path(root if root is not None else default_root())
        self._db_url = db_url if db_url is not None else default_db_url()
        self.archive = archive
        self._own_archive = archive is None  # closed by close(); one passed in stays open
        self.recorder = CurveRecorder(budget=budget)
        self.recorder.track_best(best, mode)
        self._charts = ChartPlanner(self.recorder, charts)
        self._seen, self._record = self._charts.seen, self.recorder.log  # the hot path's lookups, once
        self.hparams: dict[str, Any] = {}
        self.data_files = [Path(p) for p in data_files]
        self.resumed_from = None if resumed_from is None else str(resumed_from)
        self.handle: Any = None
        self.run_id: str | None = None
        self.exporter: Any = None
        self.global_step = 0
        self.epoch: int | None = None
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self.best_metrics: dict[str, float] = {}
        self._latest_best: Any = None  # the last logged value of the best metric (converted at epoch end)
        self._state = "new"  # new -> running -> finished | failed
        if hparams:
            self.log_hyperparams(hparams)

    # -- the run's life ------------------------------------------------------------------
    @property
    def url(self) -> str | None:
        """The Prometheus scrape URL of this rank's endpoint, or None (not serving)."""
        return None if self.exporter is None else self.exporter.url

    @property
    def is_zero(self) -> bool:
        """Whether this process is rank 0, the one that allocates, writes and commits the version."""
        return self.rank == 0

    def start(self) -> RunTracker:
        """Allocate the version (rank 0), share its run id with every rank, start the endpoint."""
        if self._state != "new":
            raise RuntimeError(f"This run is already {self._state}; create a new RunTracker for a new run.")
        try:
            run_id = None
            if self.is_zero:
                from curvewatch.archive import ModelArchive

                self.archive = self.archive or ModelArchive(self._root, db_url=self._db_url)
                self.handle = self.archive.allocate(self.key)
                run_id = self.handle.run_id
            self.run_id = share_run_id(run_id)
            self._state = "running"
            if self.serve:
                self._serve()
        except BaseException as exc:  # nothing may stay reserved, serving or connected after a failed start
            if self.handle is not None and self._state == "new":
                self._state = "running"
            if self._state == "running":
                self._fail_keeping(exc)
            self.close()
            raise
        return self

    def _serve(self) -> None:
        from curvewatch.prom import Exporter, RunInfo

        version = "" if self.handle is None else self.handle.version
        run = RunInfo(run_id=self.run_id, model_type=self.key.model_type, mode=self.key.mode,
                      scope="/".join(self.key.scope), version=version,
                      experiment=self.key.subject if self.key.mode == "experiment" else "", rank=self.rank)
        from curvewatch.prom.exporter import FINAL_OPTIONS, START_OPTIONS

        opts = self.serve_options
        self.exporter = Exporter(self.recorder, run=run, ranks=self.ranks,
                                 **{k: opts[k] for k in FINAL_OPTIONS if k in opts})
        self.exporter.start(port=self.port, addr=self.addr, **{k: opts[k] for k in START_OPTIONS if k in opts})

    def __enter__(self) -> RunTracker:
        return self.start()

    def _check_running(self) -> None:
        if self._state != "running":
            raise RuntimeError(f"This run is {self._state}; use it inside `with RunTracker(...)` or after start().")

    # -- logging -------------------------------------------------------------------------
    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Record ``metrics`` (floats, ints, numpy scalars, one-element tensors) at ``step``, or at the next
        step (last step + 1) when omitted."""
        if not self._seen.issuperset(metrics):
            self._charts.observe(metrics)
        self.global_step = step = self.global_step + 1 if step is None else step
        self._record(step, metrics)  # one dict: no copy and unpack of **metrics
        if self.best in metrics:
            self._latest_best = metrics[self.best]

    def log_hyperparams(self, params: Mapping[str, Any]) -> None:
        """Store hyperparameters (merged with earlier calls) in the version's ``metadata.json``."""
        if not isinstance(params, Mapping):
            if not hasattr(params, "__dict__"):
                raise TypeError(f"log_hyperparams() takes a dict or an object with attributes (argparse.Namespace), "
                                f"got {type(params).__name__}.")
            params = vars(params)  # argparse.Namespace and the like
        self.hparams.update(jsonable(dict(params)))

    def epoch_end(self, epoch: int, model: Any = None, *, optimizer: Any = None, **metrics: Any) -> bool:
        """Log the epoch's metrics at the current step; save ``checkpoint_best.pth`` (and every
        ``checkpoint_every`` epochs a periodic one); return True if the ``best`` metric improved."""
        self._check_running()
        self.recorder.set_epoch(epoch)
        self.epoch = epoch
        if metrics:
            self.log(self.global_step, **metrics)
        value = _as_float(self._latest_best)
        improved = math.isfinite(value) and (self.best_value is None or _BETTER[self.mode](value, self.best_value))
        if improved:
            self.best_epoch, self.best_value = epoch, value
            self.best_metrics = {k: _as_float(v) for k, v in metrics.items()}
        if model is not None and self.is_zero and (improved or self._periodic(epoch)):
            state = {"epoch": epoch, "global_step": self.global_step, "model": state_dict_of(model),
                     "optimizer": None if optimizer is None else optimizer.state_dict(),
                     "recorder": self.recorder.state_dict(), "best": {"metric": self.best, "value": self.best_value}}
            if improved:
                save_checkpoint(state, self.handle.best_checkpoint_path)
            if self._periodic(epoch):
                save_checkpoint(state, self.handle.checkpoint_path(epoch))
        return improved

    def _periodic(self, epoch: int) -> bool:
        return bool(self.checkpoint_every) and epoch % self.checkpoint_every == 0

    # -- the end ---------------------------------------------------------------------------
    def finish(self, model_or_state_dict: Any = None, metadata: Mapping[str, Any] | None = None, *,
               best_checkpoint: str | Path | None = None, metrics_summary: Mapping[str, Any] | None = None):
        """Write ``model.pth`` and commit the version (curves, PNG, metadata, manifest); the run is finished.

        ``model.pth`` holds the given model's (or state dict's) weights; without one, the weights of
        ``best_checkpoint`` (a checkpoint file written elsewhere, copied in as ``checkpoint_best.pth``) or
        of this tracker's own ``checkpoint_best.pth``. Returns the ``VersionRecord`` (None on other ranks).
        """
        self._check_running()
        record = None
        if self.is_zero:
            handle = self.handle
            if best_checkpoint is not None:
                copy_checkpoint(best_checkpoint, handle.best_checkpoint_path)
            if model_or_state_dict is not None:
                weights = state_dict_of(model_or_state_dict)
            elif handle.best_checkpoint_path.is_file():
                weights = state_dict_from_checkpoint(handle.best_checkpoint_path)
            else:
                raise ValueError("finish() needs the model (or its state_dict), or best_checkpoint= a saved "
                                 "checkpoint file: this run saved no checkpoint_best.pth.")
            save_checkpoint(weights, handle.model_path)
            meta = {**jsonable(dict(metadata or {})), **run_metadata(self)}
            record = self.archive.commit(handle, self.recorder, metadata=meta,
                                         metrics_summary={**self.summary(), **dict(metrics_summary or {})})
        self._end("finished")
        return record

    def summary(self) -> dict[str, Any]:
        """The ``metrics_summary`` of the version: the best metric's value, its epoch, that epoch's metrics."""
        return {**self.best_metrics, self.best: self.best_value, "best_epoch": self.best_epoch,
                "epochs": self.epoch}

    def fail(self, reason: str) -> None:
        """Mark the version (rank 0) and the run failed, with ``reason``; the endpoint stops."""
        self._check_running()
        try:
            if self.is_zero:
                self.archive.fail(self.handle, str(reason))
        finally:
            self._end("failed")

    def _end(self, state: str) -> None:
        self._state = state
        if self.exporter is not None:
            self.exporter.set_state(state)
            self.exporter.stop()

    def close(self) -> None:
        """End the run: one still running (no ``finish()``) is marked failed with a warning; then stop the
        endpoint and release the archive's connections (idempotent; leaving ``with`` calls it)."""
        try:
            if self._state == "running":
                log.warning("%s: the run ended without run.finish(model); the version is marked failed.",
                            self.run_id)
                self.fail(NOT_FINISHED_REASON)
        finally:
            if self.exporter is not None:
                self.exporter.stop()
            if self.archive is not None and self._own_archive:
                self.archive.close()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if self._state == "running" and exc is not None:
                self._fail_keeping(exc)
        finally:
            self.close()

    def _fail_keeping(self, exc: BaseException) -> None:
        """Mark the run failed because of ``exc``; if that fails too, say why in a note on ``exc``."""
        try:
            self.fail(f"{type(exc).__name__}: {exc}")
        except Exception as fail_exc:  # the original error matters more: this one becomes a note on it
            exc.add_note(f"{self.run_id} could not be marked failed ({type(fail_exc).__name__}: {fail_exc}); "
                         "run `curvewatch versions rebuild` to index what is on disk.")

    def __repr__(self) -> str:
        return f"RunTracker({self.run_id or self.key.identifier!r}, state={self._state!r}, step={self.global_step})"


def _rank(from_env: Any) -> int:
    """This process's global rank: ``torch.distributed``'s when initialised, else the environment's."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else from_env()


def _as_float(value: Any) -> float:
    """A logged value as a float (NaN when missing or not a number): once per epoch, never per step."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return math.nan


def _serve_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The endpoint's options, checked by name (their values are checked where the endpoint starts)."""
    from curvewatch.prom.exporter import FINAL_OPTIONS, START_OPTIONS

    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"serve_options must be a dict of endpoint options, got {type(options).__name__}.")
    unknown = sorted(set(options) - set(FINAL_OPTIONS) - set(START_OPTIONS))
    if unknown:
        raise TypeError(f"serve_options has unknown options {unknown}; it takes {list(FINAL_OPTIONS)} "
                        f"(how the final state reaches Prometheus) and {list(START_OPTIONS)} (TLS, basic "
                        "auth, discovery).")
    return dict(options)
