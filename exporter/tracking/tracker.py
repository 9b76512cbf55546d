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

Resuming a killed run is one argument: the tracker restores everything and says where to continue.

    with curvewatch.RunTracker("digits-mlp", best="val_acc", mode="max", checkpoint_every=1, resume="last",
                               model=model, optimizer=opt, scheduler=sched) as run:
        for epoch in range(run.start_epoch, 21):
            ...                                         # run.log(train_loss=...) as before
            run.epoch_end(epoch, val_loss=vl, val_acc=va)
        run.finish()

A name (``"digits-mlp"``) means ``ModelKey.experiment(name, model_type=...)``, i.e.
``saved_models/experiments/digits-mlp/mlp/v{N}/``; any ``ModelKey`` works too.

Guarantees (tests named after them in tests/test_tracking_*.py):
- best_checkpoint_follows_the_chosen_metric_and_mode: ``checkpoint_best.pth`` is written at each epoch whose
  ``best`` metric is better (``mode``) than every earlier one; NaN/inf never count as better.
- leaving_without_finish_marks_the_version_failed: an exception inside the ``with``, ``run.fail(reason)`` or
  leaving without ``finish()`` marks the version and the run ``failed`` (with a warning in the last case).
- resume_gives_the_curves_of_an_uninterrupted_run: ``resume=`` a checkpoint path, ``"last"`` (the newest
  checkpoint of the key's newest version that has one) or ``"best"`` restores the model, optimizer,
  scheduler and grad scaler passed, the recorder (every line, the best point so far, the charts), the
  global step, the epoch, the best so far and the RNG states; ``run.start_epoch`` is the next epoch. A run
  killed after epoch 3 and resumed finalizes the same curves document, point for point, as one never
  killed. With no checkpoint yet, ``"last"``/``"best"`` start fresh (with a warning), so one command
  line serves the first start and every restart.
- resume_verifies_the_checkpoint_against_the_manifest: a checkpoint of a complete version is resumed only
  if its SHA-256 is the manifest's (``ManifestMismatchError`` otherwise).
- resume_continues_the_lineage: the new version records ``resumed_from`` (the run, version, checkpoint,
  epoch and step) in ``metadata.json`` and carries the old ``checkpoint_best.pth``; with
  ``continue_version=True`` the killed run's own reserved version is completed instead.
- resume_on_another_host_of_a_url_root: on an ``s3://`` root each checkpoint is uploaded as ``epoch_end``
  writes it, so a run killed on one host resumes (``"last"``, ``"best"`` or the checkpoint's URL) on another
  host with another cache, with the same guarantees as on a local root (a failed upload is a warning).
- a_best_metric_never_logged_fails_at_the_first_epoch_end: at the first ``epoch_end`` (or the first
  ``set_epoch`` past the first epoch) a ``best`` metric not logged yet raises one sentence naming the logged
  metrics, and the version is marked failed with it; a ``mode`` against the metric's family, a chart naming
  a metric never logged and a ``checkpoint_every`` that can never trigger are logged as warnings then
  (an unknown ``mode`` string is refused earlier, by the constructor).
- one_run_is_one_version_under_torchrun: only rank 0 allocates, writes and commits; every rank labels its
  series with rank 0's run id (see ``distributed``).
- signals_on_the_endpoint: ``spikes=True`` (the default) counts spike events of every logged line,
  ``grad_norm=True`` (with ``optimizer=``) logs the global gradient norm as the ``grad_norm`` line before
  each ``optimizer.step()`` without a sync, ``devices=True`` (the default) exposes this process's CUDA
  memory per device; all read at scrape time (``curvewatch.signals``, docs/signals.md) and resumed with
  the run.
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
from .checks import first_epoch_verdict
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
                 serve_options: Mapping[str, Any] | None = None, resume: Any = None, continue_version: bool = False,
                 model: Any = None, optimizer: Any = None, scheduler: Any = None, scaler: Any = None,
                 epochs: int | None = None, spikes: Any = True, grad_norm: Any = False,
                 devices: bool = True) -> None:
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
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be the planned number of epochs (an integer >= 1), got {epochs!r}.")
        self.key, self.best, self.mode = key, best, mode
        self.serve, self.port, self.addr, self.ranks = serve, port, addr, check_ranks(ranks)
        self.serve_options = _serve_options(serve_options)
        self.checkpoint_every = checkpoint_every
        self.rank = _rank(rank_from_env)
        self._root = Path(root if root is not None else default_root())
        self._db_url = db_url if db_url is not None else default_db_url()
        self.archive = archive
        self._own_archive = archive is None  # closed by close(); one passed in stays open
        self.spikes = _spike_detector(spikes, self._mode_of)
        # with a detector, the recorder's folds feed it: nothing is added to log() (signals.recorded)
        self.recorder = CurveRecorder(budget=budget) if self.spikes is None else self._watched(budget)
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
        self.resume, self.continue_version, self.epochs = resume, continue_version, epochs
        self.model = model
        self._objects = {"optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
        self.resumed: dict[str, Any] | None = None  # where this run resumed from (metadata's resumed_from)
        self._resumed_dir: Path | None = None  # the version directory the resume point lives in
        self._first_epoch: int | None = None  # the first epoch this run saw; the checks run once it is over
        self._checked = False
        self._signals(grad_norm, devices, optimizer)
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

    @property
    def start_epoch(self) -> int:
        """The epoch the loop starts at: the one after the resumed checkpoint's, else 1."""
        return 1 if self.resumed is None else int(self.resumed["epoch"] or 0) + 1

    def start(self) -> RunTracker:
        """Allocate the version (rank 0), or continue the killed one; resume; share the run id; serve."""
        if self._state != "new":
            raise RuntimeError(f"This run is already {self._state}; create a new RunTracker for a new run.")
        try:
            from .resume import load_checkpoint, restore_objects, restore_rng

            point, state = self._resume_point()
            if point is not None:
                state = load_checkpoint(point)
                restore_objects(state, self.model, **self._objects)
                restore_rng(state.get("rng"))
            run_id = None
            if self.is_zero:
                from curvewatch.archive import ModelArchive

                self.archive = self.archive or ModelArchive(self._root, db_url=self._db_url)
                self.handle = self._continued(state) if self.continue_version else self.archive.allocate(self.key)
                run_id = self.handle.run_id
            self.run_id = share_run_id(run_id)
            self._state = "running"
            if state is not None:
                self.load_state_dict(state, source=None if point is None else point.path)
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

    def _resume_point(self) -> tuple[Any, dict[str, Any] | None]:
        """The checkpoint file to resume from, or the state an integration passed (a dict), or neither."""
        from .resume import find_checkpoint

        if self.resume is None:
            return None, None
        if isinstance(self.resume, Mapping):
            return None, dict(self.resume)
        point = find_checkpoint(self._root, self.key, self.resume, self._url_archive())
        self._resumed_dir = None if point is None else point.version_dir
        if point is None:
            log.warning("resume=%r: %s has no checkpoint yet; starting from epoch 1.", self.resume,
                        self.key.identifier)
        return point, None

    def _url_archive(self) -> Any:
        """On a URL root, the archive (opened before allocation: its registry lists what resume chooses from)."""
        from curvewatch.archive import ModelArchive
        from curvewatch.archive.storage import root_url

        if self.archive is None and root_url(self._root) is not None:
            self.archive = ModelArchive(self._root, db_url=self._db_url, read_only=not self.is_zero)
        return self.archive if self.archive is not None and self.archive.storage.remote else None

    def _store_checkpoints(self, names: list[str]) -> None:
        """On a URL root, upload the checkpoints just written, so another host can resume from them; a failed
        upload is a warning (the files stay in this host's cache and go up with the commit)."""
        if not names or self.archive is None or not self.archive.storage.remote:
            return
        from curvewatch.archive import ArchiveError

        try:
            self.archive.storage.upload(self.handle.path, names)
        except ArchiveError as exc:
            log.warning("Could not upload %s: %s Training goes on; the commit uploads them.", ", ".join(names), exc)

    def _continued(self, state: dict[str, Any] | None) -> Any:
        """The killed run's reserved version, to be completed by this run."""
        from curvewatch.archive import VersionHandle
        from curvewatch.archive.naming import STATE_RESERVED
        from curvewatch.archive.status import read_status

        version = None if state is None else state["tracker"].get("version")
        if version is None:
            return self.archive.allocate(self.key)  # nothing to continue yet: a fresh run
        handle = VersionHandle(self.archive.root, self.key, int(version))
        same = state["tracker"]["run_id"] == handle.run_id if self.archive.storage.remote else \
            Path(state["tracker"]["version_dir"]).resolve() == handle.path.resolve()  # a URL root: any host's cache
        if not same:
            raise ValueError(f"continue_version=True continues this key's version, but the checkpoint is of "
                             f"{state['tracker']['run_id']}; resume into a new version (continue_version=False).")
        found = (self.archive.storage.read_state(handle.path) if self.archive.storage.remote
                 else read_status(handle.path))["state"]
        if found != STATE_RESERVED:
            raise ValueError(f"continue_version=True continues a reserved version, but {handle.run_id} is {found}; "
                             "resume into a new version (continue_version=False).")
        if self.archive.storage.remote:  # every file the killed run stored, so the manifest covers them all
            self.archive.storage.fetch(handle.path, self.archive.storage.names(handle.path))
        return handle

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
        from curvewatch.signals import SignalsCollector

        SignalsCollector(run, spikes=self.spikes, grad_norm=self.grad_norm, devices=self.devices,
                         charts=self.recorder.charts, registry=self.exporter.registry)
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

    def _watched(self, budget: int) -> Any:
        from curvewatch.signals.recorded import SpikeWatchedRecorder

        return SpikeWatchedRecorder(budget=budget, spikes=self.spikes)

    def _signals(self, grad_norm: Any, devices: bool, optimizer: Any) -> None:
        """The gradient norm meter and device reader this run exposes (curvewatch.signals)."""
        from curvewatch.signals import GradNormMeter, TorchCudaDevices

        if isinstance(grad_norm, GradNormMeter):  # an integration's: it calls update()/record() from its hooks
            grad_norm.sink = self._log_grad_norm
            self.grad_norm: GradNormMeter | None = grad_norm
        elif grad_norm:
            if optimizer is None:
                raise ValueError("grad_norm=True measures the gradients right before each optimizer.step(): pass "
                                 "optimizer= too.")
            self.grad_norm = GradNormMeter(sink=self._log_grad_norm).attach(optimizer)
        else:
            self.grad_norm = None
        self.devices = TorchCudaDevices() if devices else None

    def _mode_of(self, metric: str) -> str:
        """Which way a metric gets better, for the spike detector: the best metric's mode, else its family's."""
        from .charts import family_of
        from .checks import EXPECTED_MODES

        if metric == self.best:
            return self.mode
        family = family_of(metric)
        return EXPECTED_MODES.get(family.chart if family is not None else "", "min")

    def _signals_metadata(self) -> dict[str, Any]:
        """``signals`` in metadata.json: each line's last spike events (report markers), the gradient norm."""
        spikes = {} if self.spikes is None else {m: [list(e) for e in ev] for m, ev in self.spikes.events().items()}
        grad = None if self.grad_norm is None else self.grad_norm.reading()._asdict()
        return {"signals": {"spikes": spikes, "grad_norm": grad}}

    def _log_grad_norm(self, norm: Any) -> None:
        """The meter's sink: the norm (a device tensor) as the ``grad_norm`` line, at the step logged next."""
        from curvewatch.signals._names import GRAD_NORM_METRIC

        metrics = {GRAD_NORM_METRIC: norm}
        if GRAD_NORM_METRIC not in self._seen:
            self._charts.observe(metrics)
        self._record(self.global_step + 1, metrics)

    def set_epoch(self, epoch: int) -> None:
        """Record the current epoch (shown live); the first epoch's checks run when a later one begins."""
        self.recorder.set_epoch(epoch)
        if self._first_epoch is None:
            self._first_epoch = epoch
        elif epoch > self._first_epoch:
            self._check_first_epoch(self._first_epoch, saves=self.model is not None)
        self.epoch = epoch

    def _check_first_epoch(self, epoch: int, saves: bool) -> None:
        """Fail fast on a best metric never logged; warn about what cannot work (once, see ``checks``)."""
        if self._checked:
            return
        self._checked = True
        verdict = first_epoch_verdict(best=self.best, mode=self.mode, logged=self._seen,
                                      charts=self._charts.user_chart_metrics(),
                                      checkpoint_every=self.checkpoint_every, saves_checkpoints=saves,
                                      epochs=self.epochs, epoch=epoch)
        for warning in verdict.warnings:
            log.warning("%s: %s", self.run_id, warning)
        if verdict.error is not None:
            if self._state == "running":
                self.fail(verdict.error)
            raise ValueError(verdict.error)

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
        self.set_epoch(epoch)
        if metrics:
            self.log(self.global_step, **metrics)
        model = self.model if model is None else model
        self._check_first_epoch(epoch, saves=model is not None)
        value = _as_float(self._latest_best)
        improved = math.isfinite(value) and (self.best_value is None or _BETTER[self.mode](value, self.best_value))
        if improved:
            self.best_epoch, self.best_value = epoch, value
            self.best_metrics = {k: _as_float(v) for k, v in metrics.items()}
        if model is not None and self.is_zero and (improved or self._periodic(epoch)):
            from .resume import checkpoint_state

            objects = {**self._objects, **({} if optimizer is None else {"optimizer": optimizer})}
            state = checkpoint_state(self, model, objects)
            written = []
            if improved:
                save_checkpoint(state, self.handle.best_checkpoint_path)
                written.append(self.handle.best_checkpoint_path.name)
            if self._periodic(epoch):
                save_checkpoint(state, self.handle.checkpoint_path(epoch))
                written.append(self.handle.checkpoint_path(epoch).name)
            self._store_checkpoints(written)
        return improved

    # -- resume --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs besides the model: the recorder, step, epoch and best so far (plain
        types; integrations keep it in their framework's checkpoint)."""
        handle = self.handle
        return {"epoch": self.epoch, "global_step": self.global_step, "recorder": self.recorder.state_dict(),
                "best": {"metric": self.best, "value": self.best_value},
                "tracker": {"best_epoch": self.best_epoch, "best_value": self.best_value,
                            "best_metrics": dict(self.best_metrics), "latest_best": _as_float(self._latest_best),
                            "hparams": dict(self.hparams), "run_id": self.run_id,
                            "version": None if handle is None else handle.version,
                            "version_dir": None if handle is None else str(handle.path)},
                "signals": {"spikes": None if self.spikes is None else self.spikes.state_dict(),
                            "grad_norm": None if self.grad_norm is None else self.grad_norm.state_dict()}}

    def load_state_dict(self, state: Mapping[str, Any], source: str | Path | None = None) -> None:
        """Continue a run from ``state_dict()`` (or a checkpoint holding it) before anything is logged: the
        recorder, step, epoch, best so far and hyperparameters; the old ``checkpoint_best.pth`` comes along."""
        self._check_running()
        if self.global_step or self._seen:
            raise RuntimeError("load_state_dict() restores a run before it logs; call it right after start().")
        saved = state["tracker"]
        self.recorder.load_state_dict(state["recorder"])
        self._record = self.recorder.log
        self._charts.restored(line["metric"] for line in state["recorder"]["lines"])
        self.global_step, self.epoch = int(state["global_step"]), state["epoch"]
        self.best_epoch, self.best_value = saved["best_epoch"], saved["best_value"]
        self.best_metrics, self._latest_best = dict(saved["best_metrics"]), saved["latest_best"]
        self.hparams = {**saved["hparams"], **self.hparams}
        signals = state.get("signals") or {}
        for name in ("spikes", "grad_norm"):
            if signals.get(name) is not None and getattr(self, name) is not None:
                getattr(self, name).load_state_dict(signals[name])
        old_dir = self._resumed_dir or saved.get("version_dir")  # the resumed version as this host holds it
        old_best = None if old_dir is None else Path(old_dir) / "checkpoint_best.pth"
        if self.is_zero and old_best is not None and old_best.is_file() and self.best_epoch is not None:
            copy_checkpoint(old_best, self.handle.best_checkpoint_path)
            self._store_checkpoints([self.handle.best_checkpoint_path.name])
        checkpoint = None if source is None else str(source)
        self.resumed = {"run_id": saved["run_id"], "version": saved["version"], "checkpoint": checkpoint,
                        "epoch": self.epoch, "global_step": self.global_step}
        self.resumed_from = checkpoint or saved["run_id"]
        self._first_epoch, self._checked = None, False

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
            meta = {**jsonable(dict(metadata or {})), **run_metadata(self), **self._signals_metadata()}
            record = self.archive.commit(handle, self.recorder, metadata=meta,
                                         metrics_summary={**self.summary(), **dict(metrics_summary or {})})
        self._end("finished")
        return record

    def summary(self) -> dict[str, Any]:
        """The ``metrics_summary`` of the version: the best metric's value, its epoch, that epoch's metrics."""
        return {**self.best_metrics, self.best: self.best_value, "best_epoch": self.best_epoch,
                "epochs": self.epoch}

    def fail(self, reason: str) -> None:
        """Mark the version (rank 0) and the run failed, with ``reason``; the endpoint stops (a run that
        already failed keeps its first reason)."""
        if self._state == "failed":
            return
        self._check_running()
        try:
            if self.is_zero:
                self.archive.fail(self.handle, str(reason))
        finally:
            self._end("failed")

    def _end(self, state: str) -> None:
        self._state = state
        if self.grad_norm is not None:
            self.grad_norm.detach()
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


def _spike_detector(spikes: Any, mode_of: Any) -> Any:
    """The run's spike detector: ``spikes=True`` a default one, a ``SpikeDetector`` as given, False none."""
    from curvewatch.signals import SpikeDetector

    if spikes is True:
        return SpikeDetector(mode_of=mode_of)
    if spikes is False or spikes is None or isinstance(spikes, SpikeDetector):
        return spikes or None
    raise TypeError(f"spikes= takes True, False or a SpikeDetector, got {type(spikes).__name__}.")


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
