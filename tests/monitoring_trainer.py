"""A tiny real training process for the monitoring tests: a torch linear model on noise-free data.

``python tests/monitoring_trainer.py RUN_ID MODE TARGETS_DIR [METRICS]`` trains with full-batch gradient
descent at ``STEPS_PER_SECOND``, served by ``curvewatch.prom`` on 127.0.0.1, and registers itself like a
remote trainer would: a target file in ``TARGETS_DIR``.

METRICS ``sales`` (default) logs the trainer metrics of docs/ARCHITECTURE.md (``train_loss``, ``lr`` per
step; ``train_mse``, ``val_*`` every ``EPOCH_STEPS`` steps) through the trainers' recorder and writes
its own target file. METRICS ``user`` logs metric names of a user's own loop (:data:`USER_CHARTS`, best
``val_acc`` in mode ``max``) through ``watch(..., sd_file=TARGETS_DIR)``, which writes and deletes the
target file and keeps the endpoint up after the run ended until the final state was scraped.
Both expose the training signals (``curvewatch.signals``) beside the curves: a spike detector fed every
logged value and the gradient norm measured before each optimizer step.

MODE ``healthy`` trains until killed, its validation loss improving at every evaluation for the first
~2500 steps (LR is small enough that it has not converged within a test: a converged run would
rightly raise ``CurvewatchNoImprovement``); ``nan`` raises the learning rate until the weights overflow to
inf/NaN after ``BREAK_STEP`` steps (and goes on logging them); ``stall`` hangs after ``BREAK_STEP``
steps while still serving (state ``running``); ``spike`` knocks the weights far off at ``SPIKE_STEP`` (the
loss jumps ~20x and stays up for longer than the detector's ``RECOVER_STEPS``); ``raise`` (user metrics)
raises an exception after
``BREAK_STEP`` steps inside ``watch`` (state ``failed``); ``finish`` (user metrics) returns normally
after ``BREAK_STEP`` steps (state ``finished``). Ends on SIGTERM, deleting its target file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import torch
from curvewatch.prom import Exporter, RunInfo, watch
from curvewatch.signals import GradNormMeter, SignalsCollector, SpikeDetector
from curvewatch.trainers.recording import make_recorder

STEPS_PER_SECOND = 20.0
EPOCH_STEPS = 10
BREAK_STEP = 40
LR, NAN_LR = 0.003, 1e6
SPIKE_STEP = 100  # after the detector's first window (64 values)
RECOVER_STEPS = 40  # 2 s at STEPS_PER_SECOND
# The user-metrics run: chart -> lines; none of them is a name the generated bundle was written for.
USER_CHARTS = {"objective": ["batch_ce", "val_ce"], "quality": ["val_acc", "val_f1"], "speed": ["tokens_per_s"]}
USER_BEST = ("val_acc", "max")
USER_RUN_INFO = {"model_type": "my-mlp", "experiment": "exp-a", "mode": "finetune"}
FINAL_GRACE_S = 20.0


def _register(targets_dir: Path, run_id: str, port: int) -> Path:
    path = targets_dir / f"{run_id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"source": "test"}}]))
    os.replace(tmp, path)
    return path


class _Model:
    """The linear model, its data and one gradient step at a time."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.x, self.x_val = torch.randn(256, 4), torch.randn(256, 4)
        w_true = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.y, self.y_val = self.x @ w_true + 5.0, self.x_val @ w_true + 5.0
        self.model = torch.nn.Linear(4, 1)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.spikes = SpikeDetector(recover_steps=RECOVER_STEPS, drain_every=16)
        self.grad_norm = GradNormMeter().attach(self.optimizer)

    def signals(self, run: RunInfo, recorder: object, registry: object) -> None:
        SignalsCollector(run, spikes=self.spikes, grad_norm=self.grad_norm, charts=recorder.charts, registry=registry)

    def knock(self) -> None:
        """Move the weights far from the solution (a bad update): the loss jumps and recovers slowly."""
        with torch.no_grad():
            self.model.weight.add_(10.0)

    def step(self, lr: float) -> torch.Tensor:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def validate(self) -> tuple[float, torch.Tensor]:
        with torch.no_grad():
            err = self.model(self.x_val) - self.y_val
            return float((err**2).mean()), err


class _Pace:
    """At most STEPS_PER_SECOND: a step late on a busy machine is not made up by a burst (a burst would
    raise the run's peak rate, the throughput alert's baseline, above what it can sustain)."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def __call__(self) -> None:
        time.sleep(max(0.0, self.last + 1 / STEPS_PER_SECOND - time.monotonic()))
        self.last = time.monotonic()


def sales(run_id: str, mode: str, targets_dir: Path) -> None:
    net = _Model()
    recorder = make_recorder(budget=500, live_window=30.0)
    info = RunInfo(run_id=run_id, model_type="linear", mode="test", rank=0)
    exporter = Exporter(recorder, run=info)
    net.signals(info, recorder, exporter.registry)
    port = exporter.start(port=0, addr="127.0.0.1")
    target = _register(targets_dir, run_id, port)
    signal.signal(signal.SIGTERM, lambda *_: (target.unlink(missing_ok=True), os._exit(0)))
    print(f"serving {port}", flush=True)
    step, epoch_losses, pace = 0, [], _Pace()
    while True:
        step += 1
        if mode == "stall" and step > BREAK_STEP:
            time.sleep(3600)  # hangs like a deadlocked data loader; the endpoint keeps serving
        lr = NAN_LR if mode == "nan" and step > BREAK_STEP else LR
        if mode == "spike" and step == SPIKE_STEP:
            net.knock()
        loss = net.step(lr)
        epoch_losses.append(loss.item())
        recorder.log(step, train_loss=loss, lr=lr)
        net.spikes.log(step, {"train_loss": loss, "lr": lr})
        if step % EPOCH_STEPS == 0:
            mse, err = net.validate()
            recorder.set_epoch(step // EPOCH_STEPS)
            recorder.log(step, train_mse=sum(epoch_losses) / len(epoch_losses), val_loss=mse,
                         val_rmse=mse**0.5, val_mae=float(err.abs().mean()),
                         val_mape=float((err / net.y_val).abs().mean() * 100),
                         val_r2=1 - mse / float(((net.y_val - net.y_val.mean()) ** 2).mean()))
            epoch_losses = []
        pace()


def user(run_id: str, mode: str, targets_dir: Path) -> None:
    net = _Model()
    with watch(run_id, port=0, budget=500, live_window=30.0, sd_file=targets_dir, final_grace=FINAL_GRACE_S,
               rank=0, **USER_RUN_INFO) as (rec, exporter):
        for chart, lines in USER_CHARTS.items():
            rec.chart(chart, lines)
        rec.track_best(*USER_BEST)
        net.signals(exporter.collector.runs()[0], rec, exporter.registry)
        target = exporter.target_file
        signal.signal(signal.SIGTERM, lambda *_: (target.unlink(missing_ok=True), os._exit(0)))
        print(f"serving {exporter.port}", flush=True)
        step, pace = 0, _Pace()
        while True:
            step += 1
            if mode in ("raise", "finish") and step > BREAK_STEP:
                if mode == "raise":
                    raise RuntimeError("CUDA out of memory (simulated)")
                break
            if mode == "stall" and step > BREAK_STEP:
                time.sleep(3600)
            loss = net.step(NAN_LR if mode == "nan" and step > BREAK_STEP else LR)
            rec.log(step, batch_ce=loss, tokens_per_s=512.0 + step % 7)
            net.spikes.log(step, {"batch_ce": loss})
            if step % EPOCH_STEPS == 0:
                mse, err = net.validate()
                rec.set_epoch(step // EPOCH_STEPS)
                acc = float((err.abs() < 1.0).float().mean())
                rec.log(step, val_ce=mse, val_acc=min(0.99, acc + step * 1e-4), val_f1=acc / 2)
            pace()


if __name__ == "__main__":
    metrics = sys.argv[4] if len(sys.argv) > 4 else "sales"
    {"sales": sales, "user": user}[metrics](sys.argv[1], sys.argv[2], Path(sys.argv[3]))
