"""A tiny real training process for the monitoring tests: a torch linear model on noise-free data.

``python tests/monitoring_trainer.py RUN_ID MODE TARGETS_DIR`` trains with full-batch gradient descent,
logging the trainer metrics of docs/ARCHITECTURE.md (``train_loss``, ``lr`` per step; ``train_mse``,
``val_*`` every ``EPOCH_STEPS`` steps) through the trainers' recorder, served by ``exporter.prom``
on 127.0.0.1. It registers itself like a remote trainer would: a target file in ``TARGETS_DIR``.

MODE ``healthy`` trains until killed, its validation loss improving at every evaluation for the first
~2500 steps (LR is small enough that it has not converged within a test: a converged run would
rightly raise ``CurvewatchNoImprovement``); ``nan`` raises the learning rate until the weights overflow to
inf/NaN after ``BREAK_STEP`` steps (and goes on logging them); ``stall`` hangs after ``BREAK_STEP``
steps while still serving (state ``running``). Ends on SIGTERM, deleting its target file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import torch
from curvewatch.prom import Exporter, RunInfo
from curvewatch.trainers.recording import make_recorder

STEPS_PER_SECOND = 20.0
EPOCH_STEPS = 10
BREAK_STEP = 40
LR, NAN_LR = 0.003, 1e6


def _register(targets_dir: Path, run_id: str, port: int) -> Path:
    path = targets_dir / f"{run_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"source": "test"}}]))
    os.replace(tmp, path)
    return path


def main(run_id: str, mode: str, targets_dir: Path) -> None:
    torch.manual_seed(0)
    x, x_val = torch.randn(256, 4), torch.randn(256, 4)
    w_true = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    y, y_val = x @ w_true + 5.0, x_val @ w_true + 5.0
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    recorder = make_recorder(budget=500, live_window=30.0)
    exporter = Exporter(recorder, run=RunInfo(run_id=run_id, model_type="linear", mode="test", rank=0))
    port = exporter.start(port=0, addr="127.0.0.1")
    target = _register(targets_dir, run_id, port)
    signal.signal(signal.SIGTERM, lambda *_: (target.unlink(missing_ok=True), os._exit(0)))
    print(f"serving {port}", flush=True)
    step, epoch_losses, start = 0, [], time.monotonic()
    while True:
        step += 1
        if mode == "stall" and step > BREAK_STEP:
            time.sleep(3600)  # hangs like a deadlocked data loader; the endpoint keeps serving
        lr = NAN_LR if mode == "nan" and step > BREAK_STEP else LR
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        epoch_losses.append(loss.item())
        recorder.log(step, train_loss=loss.detach(), lr=lr)
        if step % EPOCH_STEPS == 0:
            with torch.no_grad():
                pred = model(x_val)
                err = pred - y_val
                mse = float((err**2).mean())
                recorder.set_epoch(step // EPOCH_STEPS)
                recorder.log(step, train_mse=sum(epoch_losses) / len(epoch_losses), val_loss=mse,
                             val_rmse=mse**0.5, val_mae=float(err.abs().mean()),
                             val_mape=float((err / y_val).abs().mean() * 100),
                             val_r2=1 - mse / float(((y_val - y_val.mean()) ** 2).mean()))
            epoch_losses = []
        time.sleep(max(0.0, start + step / STEPS_PER_SECOND - time.monotonic()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
