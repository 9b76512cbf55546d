"""``fit``: the one training loop of all four models (and of any ``(x, future) -> (batch, H)`` module).

Per step: the batch MSE and the learning rate go to the recorder as they are (tensors, no ``.item()``).
Per epoch: the mean train MSE over the epoch's batches (accumulated on the device), then validation in
``eval()`` + ``no_grad()``: ``val_loss`` is the MSE on scaled targets (comparable with the train loss),
``val_rmse``/``val_mae``/``val_mape``/``val_r2`` are in sales units, ``val_mase`` is ``val_mae`` ÷ the
seasonal-naive MAE on the same windows. The baselines' MAE is logged beside them every epoch
(``BASELINE_METRICS``: flat reference lines in the ``errors`` chart). One host sync per epoch reads them.
Files: ``checkpoint_best.pth`` whenever ``val_loss`` improves (strictly; NaN never does, and ties keep the
earliest epoch, as the recorder's best point), ``checkpoint_epoch_N.pth`` every K epochs, ``model.pth``
at the end (the best epoch's weights with ``restore_best``, the default; else the last epoch's).
Deterministic on CPU for a given seed, and a run resumed from a checkpoint ends with the same weights
and curves as the uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ._constants import BASELINE_METRICS, BEST_MODE, CHECKPOINT_FORMAT_VERSION
from .baselines import mase
from .checkpoint import load_checkpoint, rng_state, save_file, set_rng_state
from .config import TrainConfig, build_optimizer, build_scheduler, resolve_device
from .data.windows import WindowedData
from .early_stopping import EarlyStoppingState, early_stopping_decision
from .metrics import RegressionSums

__all__ = ["EpochResult", "FitResult", "fit", "predict_windows"]

_SHUFFLE_SEED_STRIDE = 1_000_003  # epoch e shuffles with seed * stride + e: independent of resume points


@dataclass(frozen=True)
class EpochResult:
    """One epoch's numbers (plain floats), as logged at the epoch's last global step."""

    epoch: int
    step: int
    train_mse: float
    val_loss: float
    val_rmse: float
    val_mae: float
    val_mape: float
    val_r2: float
    lr: float
    val_mase: float = math.nan  # after lr: checkpoints written before MASE existed still load

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    """What ``fit`` did: the history, the best epoch, why it stopped, where the files are."""

    history: list[EpochResult] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_loss: float | None = None
    stop_reason: str = ""
    stopped_early: bool = False
    global_step: int = 0
    model_path: Path | None = None

    @property
    def epochs_run(self) -> int:
        return self.history[-1].epoch if self.history else 0


def fit(
    model: nn.Module,
    data: WindowedData,
    config: TrainConfig,
    *,
    paths=None,
    recorder=None,
    resume_from: str | Path | None = None,
    on_epoch_end: Sequence[Callable[[EpochResult, FitResult], None]] = (),
    checkpoint_extra: dict | None = None,
    verify: bool = True,
) -> FitResult:
    """Train ``model`` on ``data``; files go to ``paths`` (an archive version handle or ``CheckpointPaths``).

    ``recorder`` (a ``CurveRecorder`` set up by ``make_recorder``) gets every metric; ``None`` trains bare.
    ``resume_from`` continues from a checkpoint of the same model and config. ``on_epoch_end`` callbacks
    run after each epoch's files are written (a progress bar; an exception there interrupts the run).
    ``checkpoint_extra`` (plain types) is stored in every checkpoint, e.g. the scaler and model parameters.
    """
    device = resolve_device(config.device)
    model.to(device)
    optimizer = build_optimizer(config, model.parameters())
    scheduler = build_scheduler(config, optimizer)
    result, stopping, start_epoch, best_weights = FitResult(), EarlyStoppingState(), 1, None
    if resume_from is not None:
        state = load_checkpoint(resume_from, verify=verify)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state["scheduler"] is not None:
            scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        if recorder is not None and state["recorder"] is not None:
            recorder.load_state_dict(state["recorder"])
        stopping = EarlyStoppingState.from_dict(state["early_stopping"])
        result.history = [EpochResult(**h) for h in state["history"]]
        result.best_epoch, result.best_val_loss = state["best"]["epoch"], state["best"]["val_loss"]
        result.global_step, start_epoch = state["global_step"], state["epoch"] + 1
        if state.get("best_model") is not None:
            best_weights = state["best_model"]
    else:
        torch.manual_seed(config.seed)
    train = (data.train_x.to(device), data.train_future.to(device), data.train_y.to(device))
    val = (data.val_x.to(device), data.val_future.to(device), data.val_y.to(device), data.val_sales.to(device))
    baselines = {BASELINE_METRICS[name]: float((forecast - data.val_sales).abs().mean())
                 for name, forecast in data.val_baselines.items()}
    naive_mae = baselines[BASELINE_METRICS["seasonal_naive"]]

    def checkpoint(epoch: int) -> dict:
        return {
            "format": CHECKPOINT_FORMAT_VERSION, "epoch": epoch, "global_step": result.global_step,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": None if scheduler is None else scheduler.state_dict(), "rng": rng_state(),
            "recorder": None if recorder is None else recorder.state_dict(),
            "early_stopping": stopping.to_dict(),
            "best": {"epoch": result.best_epoch, "val_loss": result.best_val_loss},
            "history": [h.to_dict() for h in result.history], "config": config.to_dict(),
            "best_model": best_weights if config.restore_best else None,
            **(checkpoint_extra or {}),
        }

    for epoch in range(start_epoch, config.epochs + 1):
        if recorder is not None:
            recorder.set_epoch(epoch)
        train_mse, last_loss, lr = _train_epoch(model, optimizer, config, *train, epoch, result, recorder)
        sums, scaled_mse = _validate(model, *val, config.batch_size, data.scaler)
        metrics = sums.metrics()
        values = torch.stack([train_mse.double(), scaled_mse,
                              *(metrics[k] for k in ("rmse", "mae", "mape", "r2"))]).tolist()
        epoch_result = EpochResult(epoch, result.global_step, *values, lr=lr, val_mase=mase(values[3], naive_mae))
        result.history.append(epoch_result)
        if recorder is not None:
            recorder.log(result.global_step, train_loss=last_loss, lr=lr, **_epoch_metrics(epoch_result),
                         **baselines)
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(epoch_result.val_loss)
            else:
                scheduler.step()
        stopping, stop, reason = early_stopping_decision(
            stopping, epoch_result.val_loss, patience=config.patience, min_delta=config.min_delta, mode=BEST_MODE
        )
        if math.isfinite(epoch_result.val_loss) and (
            result.best_val_loss is None or epoch_result.val_loss < result.best_val_loss
        ):
            result.best_epoch, result.best_val_loss = epoch, epoch_result.val_loss
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if paths is not None:
                save_file(checkpoint(epoch), paths.best_checkpoint_path)
        if paths is not None and config.checkpoint_every and epoch % config.checkpoint_every == 0:
            save_file(checkpoint(epoch), paths.checkpoint_path(epoch))
        for callback in on_epoch_end:
            callback(epoch_result, result)
        if stop:
            result.stopped_early, result.stop_reason = True, f"early stopping at epoch {epoch}: {reason}"
            break
    else:
        result.stop_reason = f"reached the last epoch ({config.epochs})"
    if config.restore_best and best_weights is not None:
        model.load_state_dict(best_weights)
    if paths is not None:
        result.model_path = Path(paths.model_path)
        save_file(model.state_dict(), result.model_path)
    return result


def _train_epoch(model, optimizer, config, x, future, y, epoch, result, recorder):
    model.train()
    generator = torch.Generator().manual_seed(config.seed * _SHUFFLE_SEED_STRIDE + epoch)
    order = torch.randperm(len(x), generator=generator).to(x.device)
    batches = order.split(config.batch_size)
    loss_sum = torch.zeros((), device=x.device)
    params = [p for p in model.parameters() if p.requires_grad]
    loss = lr = None
    for i, index in enumerate(batches):
        lr = optimizer.param_groups[0]["lr"]
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x[index], future[index]), y[index])
        loss.backward()
        if config.grad_clip:
            nn.utils.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        loss = loss.detach()
        loss_sum += loss
        result.global_step += 1
        if recorder is not None and i < len(batches) - 1:  # the last step is logged with the epoch metrics
            recorder.log(result.global_step, train_loss=loss, lr=lr)
    return loss_sum / len(batches), loss, lr


@torch.no_grad()
def _validate(model, x, future, y, sales, batch_size, scaler) -> tuple[RegressionSums, torch.Tensor]:
    """Metrics in sales units (against the raw sales) and the MSE in scaled units, both on the device."""
    model.eval()
    sums, sq_err = RegressionSums(x.device), torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, len(x), batch_size):
        batch = slice(start, start + batch_size)
        prediction = model(x[batch], future[batch])
        sq_err += ((prediction - y[batch]).double() ** 2).sum()
        sums.update(scaler.inverse_target(prediction.double()), sales[batch])
    return sums, sq_err / max(y.numel(), 1)


@torch.no_grad()
def predict_windows(model: nn.Module, x: torch.Tensor, future: torch.Tensor, scaler, batch_size: int = 256):
    """``model``'s forecasts of the windows ``x``/``future``, in sales units (float64, on the CPU)."""
    model.eval()
    device = next(model.parameters()).device
    out = [scaler.inverse_target(model(x[s : s + batch_size].to(device), future[s : s + batch_size].to(device))
                                 .double()).cpu() for s in range(0, len(x), batch_size)]
    return torch.cat(out)


def _epoch_metrics(r: EpochResult) -> dict[str, float]:
    return {"train_mse": r.train_mse, "val_loss": r.val_loss, "val_rmse": r.val_rmse, "val_mae": r.val_mae,
            "val_mape": r.val_mape, "val_r2": r.val_r2, "val_mase": r.val_mase}

