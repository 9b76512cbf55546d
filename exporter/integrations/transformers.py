"""Hugging Face Transformers: ``Trainer(..., callbacks=[CurvewatchCallback(experiment="sst2", monitor="eval_loss")])``.

The callback only translates the ``Trainer``'s hooks into :class:`curvewatch.RunTracker` calls:

- ``on_train_begin`` (every process): starts the tracker (the main process allocates
  ``experiments/{experiment}/{model_type}/v{N}/``; the run id reaches every process) and its Prometheus
  endpoint (``callback.url``; the main process only unless ``ranks="all"``); the ``TrainingArguments``
  become the version's hyperparameters.
- ``on_log`` (world process zero): every number in ``logs`` becomes a curve at ``state.global_step``
  (``loss``, ``learning_rate``, ``grad_norm``, ``eval_*``), except the bookkeeping in ``NOT_CURVES``
  (``epoch`` becomes the run's epoch; run times, throughput, ``total_flos``, the final mean ``train_loss``).
- ``grad_norm=True``: the ``grad_norm`` the Trainer logs (its norm before clipping) also feeds the
  ``curvewatch_grad_norm*`` gauges and the run's median (``curvewatch.signals``, docs/signals.md).
- ``on_evaluate`` (world process zero): closes an epoch (``RunTracker.epoch_end``); when ``monitor``
  improves (``mode``), the model is saved as ``checkpoint_best.pth``.
- ``on_save``: the Trainer's own best checkpoint directory, when it keeps one, is noted in the metadata.
- ``train(resume_from_checkpoint=...)`` resumes the curves too: ``on_save`` writes the tracker's
  ``state_dict()`` as ``STATE_FILE`` into each checkpoint directory the Trainer saves, and a ``train()``
  that starts from one (``state.global_step`` > 0 at ``on_train_begin``: ``{output_dir}/checkpoint-{step}``)
  restores it: every line, the best point so far, the step and the epoch (the Trainer restores the model,
  optimizer, scheduler and RNG states itself). The resumed run is a new version recording ``resumed_from``,
  or with ``continue_version=True`` the killed run's own reserved version.
- ``on_train_end``: commits the version (``model.pth`` = the best evaluation's weights, else the final
  ones). The ``Trainer`` calls no hook when ``train()`` raises: a run still open when the process exits
  (or when the next ``train()`` begins) is marked failed then.

Needs the ``transformers`` extra (``pip install 'curvewatch[transformers]'``).
"""

from __future__ import annotations

import atexit
import logging
import math
import numbers
from pathlib import Path
from typing import Any

from curvewatch.integrations._extras import require
from curvewatch.signals import GradNormMeter
from curvewatch.signals._names import GRAD_NORM_METRIC
from curvewatch.tracking import RunTracker

_callback = require("transformers.trainer_callback", "CurvewatchCallback")

__all__ = ["NOT_CURVES", "STATE_FILE", "CurvewatchCallback"]

log = logging.getLogger("curvewatch.integrations.transformers")

EPOCH_KEY = "epoch"
NOT_CURVES = frozenset({  # numbers the Trainer logs that are bookkeeping, not training curves
    EPOCH_KEY, "total_flos", "train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second",
    "eval_runtime", "eval_samples_per_second", "eval_steps_per_second",
})
STATE_FILE = "curvewatch_state.pth"  # the tracker's state_dict(), in each checkpoint directory the Trainer saves
ABANDONED = "the process ended (or a new train() began) before on_train_end: train() did not complete"


class CurvewatchCallback(_callback.TrainerCallback):
    """Records, serves and archives a ``transformers.Trainer`` run; extra keywords go to ``RunTracker``."""

    def __init__(self, experiment: str = "transformers", *, model_type: str | None = None,
                 monitor: str = "eval_loss", mode: str = "min", ranks: str = "zero", grad_norm: bool = False,
                 **tracker_options: Any) -> None:
        self._experiment_name = experiment
        self._options = {"model_type": model_type, "best": monitor, "mode": mode, "ranks": ranks,
                         **tracker_options}
        RunTracker(experiment, **self._options)  # bad arguments fail here, with the tracker's sentence
        self.monitor, self.grad_norm = monitor, bool(grad_norm)
        self.tracker: RunTracker | None = None
        self.record: Any = None  # the committed VersionRecord (main process), after on_train_end
        self._trainer_best: str | None = None

    @property
    def url(self) -> str | None:
        return None if self.tracker is None else self.tracker.url

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        self._abandon()
        self.record, self._trainer_best = None, None
        model = kwargs.get("model")
        options = dict(self._options)
        if options["model_type"] is None and model is not None:
            options["model_type"] = type(model).__name__
        if state.global_step and options.get("resume") is None:  # the Trainer resumed from a checkpoint
            options["resume"] = _saved_state(_checkpoint_dir(args, state))
        meter = GradNormMeter() if self.grad_norm else False  # fed the Trainer's own grad_norm in on_log
        self.tracker = RunTracker(self._experiment_name, **options, grad_norm=meter).start()
        atexit.register(self._abandon)
        if state.is_world_process_zero:
            self.tracker.log_hyperparams({k: v for k, v in args.to_dict().items() if _plain(v)})

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        run = self.tracker
        if run is None or not state.is_world_process_zero or not logs:
            return
        if logs.get(EPOCH_KEY) is not None:
            run.set_epoch(math.ceil(logs[EPOCH_KEY]))
        values = {k: v for k, v in logs.items() if k not in NOT_CURVES and _number(v)}
        if run.grad_norm is not None and GRAD_NORM_METRIC in values:
            run.grad_norm.record(values[GRAD_NORM_METRIC])
        if values:
            run.log(state.global_step, **values)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs) -> None:
        run = self.tracker
        if run is None or not state.is_world_process_zero:
            return
        run.epoch_end(math.ceil(state.epoch or 0), kwargs.get("model"))

    def on_save(self, args, state, control, **kwargs) -> None:
        if self.tracker is not None and state.is_world_process_zero:
            directory = _checkpoint_dir(args, state)
            if directory.is_dir():
                from curvewatch.archive import atomic_torch_save

                atomic_torch_save(self.tracker.state_dict(), directory / STATE_FILE)
        if self.tracker is not None and state.best_model_checkpoint:
            self._trainer_best = str(state.best_model_checkpoint)

    def on_train_end(self, args, state, control, **kwargs) -> None:
        run, self.tracker = self.tracker, None
        if run is None:
            return
        atexit.unregister(self._abandon)
        try:
            own_best = run.handle is not None and run.handle.best_checkpoint_path.is_file()
            metadata = {} if self._trainer_best is None else {"trainer_best_checkpoint": self._trainer_best}
            self.record = run.finish(None if own_best else kwargs.get("model"), metadata=metadata)
        except BaseException as exc:
            run.fail(f"on_train_end could not commit the version: {type(exc).__name__}: {exc}")
            raise
        finally:
            run.close()

    def _abandon(self) -> None:
        """Mark a run that never reached on_train_end failed (at exit, or when a new train() begins)."""
        run, self.tracker = self.tracker, None
        if run is None:
            return
        atexit.unregister(self._abandon)
        try:
            log.warning("%s: %s; the version is marked failed.", run.run_id, ABANDONED)
            run.fail(ABANDONED)
        finally:
            run.close()


def _checkpoint_dir(args: Any, state: Any) -> Path:
    """The directory the Trainer saves (and resumes) the checkpoint of ``state.global_step`` in."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    return Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"


def _saved_state(directory: Path) -> dict[str, Any] | None:
    """The tracker state saved in a checkpoint directory (None, with a warning, when there is none)."""
    import torch

    path = directory / STATE_FILE
    if not path.is_file():
        log.warning("CurvewatchCallback: %s holds no %s (saved without this callback); the curves of this train() "
                    "start at its step.", directory, STATE_FILE)
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> bool:
    """A hyperparameter worth keeping: a number, a string, a bool or None (not the Trainer's nested objects)."""
    return value is None or isinstance(value, (str, bool, numbers.Real))
