"""``TrainingManager``: check a request, allocate a version, expose the run, train, commit (or fail) it.

    manager = TrainingManager(root="saved_models")
    outcome = manager.train(TrainRequest("mlstm", SeriesSpec("product", product="P001")))
    outcome.version_path          # saved_models/product/P001_all/mlstm/v1

Every check (unknown model or mode, an id not in the data, too little data for one window, bad options)
runs before the archive is opened, so bad input creates no directory. While training, the run is
exposed on a Prometheus endpoint (its own, or a shared ``Exporter`` passed in); the run's state becomes
``finished`` or ``failed`` at the end, and a failed run's version is marked failed with the reason.

- failed_commit_raises_its_own_error: when training or the commit fails, the caller gets that error;
  if the version cannot be marked failed too (already marked complete, registry down), the reason is
  added to it as a note instead of replacing it.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from curvewatch.provenance import provenance

from ._constants import BASELINES
from .baselines import baseline_scores, scores
from .config import resolve_device
from .data import SalesData
from .loop import FitResult, fit, predict_windows
from .progress import EpochProgress
from .recording import DEFAULT_BUDGET, make_recorder
from .request import Prepared, TrainRequest, prepare

__all__ = ["TrainOutcome", "TrainingManager", "build_metadata", "mark_failed", "summary", "write_reference_profile"]

log = logging.getLogger("curvewatch.trainers")


@dataclass
class TrainOutcome:
    """A committed run: the archive record and handle, the fit result, the scrape URL used."""

    record: object
    handle: object
    fit: FitResult
    url: str | None

    @property
    def version_path(self) -> Path:
        return Path(self.handle.path)


class TrainingManager:
    """Trains requests into versions of one archive, exposing each run while it trains."""

    def __init__(self, root: str | Path = "saved_models", db_url: str | None = None, *, archive=None,
                 exporter=None, serve: bool = True, port: int = 0, addr: str = "127.0.0.1",
                 budget: int = DEFAULT_BUDGET, quiet: bool = False,
                 announce: Callable[[str], None] | None = None, sd_file: str | Path | None = None,
                 sd_address: str | None = None) -> None:
        self.root, self.db_url, self._archive = Path(root), db_url, archive
        self.exporter, self.serve, self.port, self.addr = exporter, serve, port, addr
        self.budget, self.quiet, self.sd_file, self.sd_address = budget, quiet, sd_file, sd_address
        self.announce = announce or log.info

    @property
    def archive(self):
        """The ``ModelArchive`` (opened on first use, after the request has been checked)."""
        if self._archive is None:
            from curvewatch.archive import ModelArchive

            self._archive = ModelArchive(self.root, db_url=self.db_url)
        return self._archive

    def train(self, request: TrainRequest, data: SalesData | None = None, *,
              on_epoch_end: Sequence[Callable] = ()) -> TrainOutcome:
        """Train one request into a new version and return it (raises on bad input before any file).

        ``on_epoch_end`` callbacks get ``(EpochResult, FitResult)`` after each epoch, while the run is live.
        """
        prepared = prepare(request, data)
        handle = self.archive.allocate(prepared.key)
        recorder = make_recorder(self.budget)
        exporter, own = self._expose(recorder, prepared, handle)
        url = exporter.url if exporter is not None else None
        if url:
            self.announce(f"{handle.run_id}: gauges at {url}")
        progress = EpochProgress(request.config.epochs, handle.run_id, quiet=self.quiet)
        try:
            result = fit(prepared.model, prepared.windows, request.config, paths=handle, recorder=recorder,
                         resume_from=request.resume_from, verify=request.verify, on_epoch_end=[progress, *on_epoch_end],
                         checkpoint_extra={"metadata": build_metadata(prepared, None)})
            progress.close()
            metadata = build_metadata(prepared, result)
            write_reference_profile(prepared, handle)  # reference_profile.json: the serving monitor's drift baseline
            record = self.archive.commit(handle, recorder, metadata=metadata,
                                         metrics_summary=summary(result, metadata["baselines"]))
        except BaseException as exc:
            progress.close()
            if exporter is not None:
                exporter.set_state("failed", handle.run_id)
            mark_failed(self.archive, handle, exc)
            raise
        else:
            if exporter is not None:  # before stop(): the endpoint serves the final state to its scrapers
                exporter.set_state("finished", handle.run_id)
        finally:
            if own:
                exporter.stop()
        return TrainOutcome(record=record, handle=handle, fit=result, url=url)

    def _expose(self, recorder, prepared: Prepared, handle):
        """Add the run to the shared exporter, or start one for it; ``(exporter, owned)``."""
        if self.exporter is None and not self.serve:
            return None, False
        from curvewatch.prom import Exporter, RunInfo

        key, series = prepared.key, prepared.request.series
        run = RunInfo(run_id=handle.run_id, model_type=key.model_type, mode=series.mode,
                      scope="/".join(key.scope), version=handle.version, experiment=prepared.request.experiment)
        if self.exporter is not None:
            self.exporter.add(recorder, run)
            return self.exporter, False
        exporter = Exporter(recorder, run=run)
        exporter.start(port=self.port, addr=self.addr, sd_file=self.sd_file, sd_address=self.sd_address)
        return exporter, True


def mark_failed(archive, handle, exc: BaseException) -> None:
    """Mark ``handle``'s version failed because of ``exc``; if that fails too, say why in a note on ``exc``."""
    try:
        archive.fail(handle, f"{type(exc).__name__}: {exc}")
    except Exception as fail_exc:  # the original error matters more: this one becomes a note on it
        exc.add_note(f"{handle.run_id} could not be marked failed ({type(fail_exc).__name__}: {fail_exc}); "
                     "run `curvewatch versions rebuild` to index what is on disk.")


def write_reference_profile(prepared: Prepared, handle) -> None:
    """Store the training inputs' profile beside metadata.json (listed in the manifest at commit)."""
    from curvewatch.serving import write_profile

    from .data import feature_matrix, select_series
    from .serving import training_profile

    matrix, columns = feature_matrix(select_series(prepared.data, prepared.request.series))
    write_profile(handle.path, training_profile(matrix, columns, prepared.windows.split_index))


def build_metadata(prepared: Prepared, result: FitResult | None) -> dict:
    """metadata.json: everything ``predict`` needs to rebuild the model and its input, as plain JSON.

    ``baselines`` scores the seasonal-naive and 4-week weekday-mean forecasts on the validation windows
    (MAE, RMSE, MAPE, R², MASE, per-horizon-day MAE); with a result, ``validation`` scores the model's
    final weights on the same windows, with its per-horizon-day MAE.
    """
    request, windows = prepared.request, prepared.windows
    baselines = {k: v.numpy() for k, v in windows.val_baselines.items()}
    meta = {
        "model_type": request.model_type,
        "model_params": dict(request.model_params),
        "lookback": request.lookback,
        "horizon": request.horizon,
        "val_fraction": request.val_fraction,
        "n_features": windows.n_features,
        "series": request.series.to_dict(),
        "data_source": dict(prepared.data.source),
        "data": {"start": str(prepared.data.dates[0]), "end": str(prepared.data.dates[-1]),
                 "split_date": windows.split_date, "train_windows": len(windows.train_x),
                 "val_windows": len(windows.val_x)},
        "scaler": windows.scaler.to_dict(),
        "target_transform": windows.scaler.target_transform,
        "known_future_features": list(windows.scaler.columns[1:]),
        "baselines": baseline_scores(baselines, windows.val_sales.numpy()),
        "training": request.config.to_dict(),
        "experiment": request.experiment,
        "resumed_from": request.resume_from,
        "device": str(resolve_device(request.config.device)),
        "software": {"torch": str(torch.__version__), "python": platform.python_version()},
        "provenance": provenance(data_digests=[prepared.data.source] if "sha256" in prepared.data.source else [],
                                 resumed_from=request.resume_from),
    }
    if result is not None:
        meta["result"] = {"epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                          "best_val_loss": result.best_val_loss, "stopped_early": result.stopped_early,
                          "stop_reason": result.stop_reason, "global_step": result.global_step,
                          "model_weights": "best epoch" if request.config.restore_best else "last epoch"}
        meta["history"] = [h.to_dict() for h in result.history]
        forecasts = predict_windows(prepared.model, windows.val_x, windows.val_future, windows.scaler)
        naive_mae = meta["baselines"]["seasonal_naive"]["mae"]
        meta["validation"] = scores(forecasts, windows.val_sales, naive_mae)
    return meta


def summary(result: FitResult, baselines: dict) -> dict:
    """Metrics of the best epoch (the weights in model.pth with ``restore_best``), the epoch counts, each
    baseline's validation MAE (``baseline_<name>_mae``) and the model's MAE as a share of it
    (``mae_vs_<name>``: below 1 beats the baseline)."""
    best = next((h for h in result.history if h.epoch == result.best_epoch), None)
    out = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run}
    if best is not None:
        out.update({k: v for k, v in best.to_dict().items() if k not in ("epoch", "step", "lr")})
    for name in BASELINES:
        mae = baselines[name]["mae"]
        out[f"baseline_{name}_mae"] = mae
        if best is not None:
            out[f"mae_vs_{name}"] = best.val_mae / mae if mae > 0 else None
    return out
