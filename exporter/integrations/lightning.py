"""PyTorch Lightning: ``Trainer(logger=CurvewatchLogger(experiment="digits", monitor="val_loss", mode="min"))``.

The logger only translates Lightning's hooks into :class:`curvewatch.RunTracker` calls:

- Lightning creates the logger's ``experiment`` on every rank before ``fit`` sets up: that starts the
  tracker (rank 0 allocates ``experiments/{experiment}/{model_type}/v{N}/``; the run id reaches every
  rank) and its Prometheus endpoint (``logger.url``; rank 0 only unless ``ranks="all"``).
- ``log_metrics`` (rank 0): every metric becomes a curve at Lightning's step; the ``epoch`` key Lightning
  adds becomes the run's epoch, not a curve. A call holding ``monitor`` closes an epoch
  (``RunTracker.epoch_end``), which decides the best epoch.
- ``log_hyperparams`` (rank 0): stored in the version's ``metadata.json`` (``hparams``).
- ``after_save_checkpoint``: a ``ModelCheckpoint`` that monitors the same metric and mode is the best
  checkpoint; the logger then writes none of its own. Without one, the logger saves
  ``checkpoint_best.pth`` itself from the module Lightning hands to ``log_graph`` when ``fit`` starts.
- ``fit(..., ckpt_path=...)`` resumes the curves too: every checkpoint Lightning saves carries the tracker's
  ``state_dict()`` (under ``STATE_KEY``, added by a small callback the logger puts on the trainer when ``fit``
  starts), and a fit started from one restores it (``RunTracker.load_state_dict``) before anything is logged:
  every line, the best point so far, the step and the epoch. The resumed run is a new version recording
  ``resumed_from`` (Lightning creates the logger's run before it reads ``ckpt_path``, so continuing the
  killed run's own version is left to ``RunTracker`` and the Hugging Face callback).
- ``grad_norm=True``: the global gradient norm, measured on device in ``on_before_optimizer_step`` (after
  Lightning unscales AMP gradients, before it clips), is the ``grad_norm`` line and the
  ``curvewatch_grad_norm*`` gauges (``curvewatch.signals``, docs/signals.md).
- ``finalize("success")`` commits the version: ``model.pth`` = the best checkpoint's weights,
  ``checkpoint_best.pth``, curves, PNG, metadata, manifest. ``finalize("failed")`` (an exception or
  Ctrl-C in ``fit``) or any other status (a signal) marks the version failed. Later calls (a
  ``trainer.test`` after ``fit``) leave the committed version alone.

Needs the ``lightning`` extra (``pip install 'curvewatch[lightning]'``).
"""

from __future__ import annotations

import logging
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from curvewatch.integrations._extras import require
from curvewatch.signals import GradNormMeter
from curvewatch.tracking import RunTracker

_loggers = require("lightning.pytorch.loggers", "CurvewatchLogger")
_rank_zero = require("lightning.pytorch.utilities.rank_zero", "CurvewatchLogger")
rank_zero_only = _rank_zero.rank_zero_only

_callbacks = require("lightning.pytorch.callbacks", "CurvewatchLogger")

__all__ = ["EPOCH_KEY", "STATE_KEY", "CurvewatchLogger"]

log = logging.getLogger("curvewatch.integrations.lightning")

EPOCH_KEY = "epoch"  # what Lightning adds to every metrics dict: the run's epoch, not a curve
SUCCESS = "success"
STATE_KEY = "curvewatch"  # where a Lightning checkpoint keeps the tracker's state_dict()


class CurvewatchLogger(_loggers.Logger):
    """Records, serves and archives a Lightning run; keyword arguments beyond these go to ``RunTracker``."""

    def __init__(self, experiment: str = "lightning", *, model_type: str | None = None, monitor: str = "val_loss",
                 mode: str = "min", ranks: str = "zero", grad_norm: bool = False, **tracker_options: Any) -> None:
        super().__init__()
        if tracker_options.get("continue_version"):
            raise ValueError("CurvewatchLogger resumes into a new version: Lightning creates the logger's run "
                             "before it reads ckpt_path, so continue_version=True is for RunTracker and "
                             "CurvewatchCallback.")
        self._experiment_name = experiment
        self._options = {"model_type": model_type, "best": monitor, "mode": mode, "ranks": ranks,
                         **tracker_options}
        self.monitor, self.mode, self.grad_norm = monitor, mode, bool(grad_norm)
        RunTracker(experiment, **self._options)  # bad arguments fail here, with the tracker's sentence
        self._tracker: RunTracker | None = None
        self._module: Any = None  # from log_graph: checkpoint source when no ModelCheckpoint cooperates
        self._checkpoint_callback: Any = None
        self.record: Any = None  # the committed VersionRecord (rank 0), after a successful finalize
        self._done = False
        self._warned = False

    # -- what Lightning asks of every logger ------------------------------------------------
    @property
    def name(self) -> str:
        return self._experiment_name

    @property
    def version(self) -> int | str | None:
        tracker = self._tracker
        return None if tracker is None or tracker.handle is None else tracker.handle.version

    @property
    def experiment(self) -> RunTracker:
        """The started :class:`RunTracker` (created on first use, on every rank)."""
        if self._tracker is None:
            meter = GradNormMeter() if self.grad_norm else False  # updated by _SaveState before each step
            self._tracker = RunTracker(self._experiment_name, **self._options, grad_norm=meter).start()
        return self._tracker

    @property
    def url(self) -> str | None:
        """The Prometheus scrape URL while ``fit`` runs (None before, after, and on ranks that do not serve)."""
        return None if self._tracker is None else self._tracker.url

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self._done:
            if not self._warned:
                self._warned = True
                log.warning("CurvewatchLogger: the version was already committed by fit(); metrics logged after "
                            "it (e.g. by trainer.test) are not recorded. Use a new logger for a new run.")
            return
        run = self.experiment
        values = dict(metrics)
        epoch = values.pop(EPOCH_KEY, None)
        if epoch is not None:
            run.set_epoch(int(epoch))
        if not values:
            return
        run.log(step, **values)
        if self.monitor in values:
            model = None if self._cooperating() else self._module
            run.epoch_end(int(epoch) if epoch is not None else (run.epoch or 0), model)

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        if not self._done:
            self.experiment.log_hyperparams(params)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        self._module = model
        trainer = getattr(model, "_trainer", None)
        if trainer is None or any(isinstance(cb, _SaveState) for cb in trainer.callbacks):
            return
        trainer.callbacks.append(_SaveState(self))
        if trainer.ckpt_path and self._tracker is not None:
            _resume(self._tracker, trainer.ckpt_path)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._matches(checkpoint_callback):
            self._checkpoint_callback = checkpoint_callback

    def finalize(self, status: str) -> None:
        if self._done or self._tracker is None:
            return
        self._done = True
        run = self._tracker
        try:
            if status != SUCCESS:
                run.fail(f"Lightning ended the fit with status {status!r}")
                return
            best = self._best_checkpoint()
            model = None if best is not None or run.handle is None or run.handle.best_checkpoint_path.is_file() \
                else self._module  # no best checkpoint at all (monitor never logged): the final weights
            try:
                self.record = run.finish(model, best_checkpoint=best)
            except Exception as exc:  # e.g. `monitor` never logged: the version says why it failed
                run.fail(f"the version could not be committed: {type(exc).__name__}: {exc}")
                raise
        finally:
            run.close()

    # -- cooperation with ModelCheckpoint ---------------------------------------------------
    def _matches(self, callback: Any) -> bool:
        return getattr(callback, "monitor", None) == self.monitor and getattr(callback, "mode", None) == self.mode

    def _cooperating(self) -> bool:
        """Whether a ModelCheckpoint of the trainer keeps the best checkpoint of ``monitor``/``mode``."""
        if self._checkpoint_callback is not None:
            return True
        trainer = getattr(self._module, "_trainer", None)
        return any(self._matches(cb) for cb in getattr(trainer, "checkpoint_callbacks", ()) or ())

    def _best_checkpoint(self) -> str | None:
        callback = self._checkpoint_callback
        if callback is None:
            trainer = getattr(self._module, "_trainer", None)
            callback = next((cb for cb in getattr(trainer, "checkpoint_callbacks", ()) or () if self._matches(cb)),
                            None)
        path = getattr(callback, "best_model_path", "") if callback is not None else ""
        return path or None


class _SaveState(_callbacks.Callback):
    """Puts the tracker's ``state_dict()`` into every checkpoint Lightning saves (the logger adds it)."""

    def __init__(self, logger: CurvewatchLogger) -> None:
        self.logger = logger

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        tracker = self.logger._tracker
        if tracker is not None and tracker.grad_norm is not None:
            tracker.grad_norm.update(pl_module.parameters())  # device work only: read at scrape

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        tracker = self.logger._tracker
        if tracker is not None and tracker.is_zero and not self.logger._done:
            checkpoint[STATE_KEY] = tracker.state_dict()


def _resume(tracker: RunTracker, ckpt_path: str) -> None:
    """Restore the tracker from the checkpoint ``fit`` resumes from (one saved without it: a warning)."""
    import torch

    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"CurvewatchLogger cannot read {ckpt_path} with weights_only=True ({type(exc).__name__}) "
                         "to resume the curves; resume from a checkpoint Lightning saved with this logger.") from None
    state = checkpoint.get(STATE_KEY) if isinstance(checkpoint, dict) else None
    if state is None:
        log.warning("CurvewatchLogger: %s holds no curvewatch state (saved without this logger); the curves of "
                    "this fit start at its step.", ckpt_path)
        return
    if tracker.is_zero:
        tracker.load_state_dict(state, source=ckpt_path)
