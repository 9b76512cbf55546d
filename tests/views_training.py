"""Versions committed by real (tiny) torch training runs, for the read model and views tests.

``train_and_commit`` fits a linear model to noisy data with SGD and commits it through ``ModelArchive``;
``diverge_at`` raises the learning rate there so the loss really overflows to inf and then NaN.
``commit_large`` commits a version with 10 lines of ``budget`` points each (the issue's size budget).
"""

from __future__ import annotations

import math

import torch
from curvewatch import CurveRecorder
from curvewatch.archive import ModelArchive, ModelKey, VersionRecord, atomic_torch_save

LOSS_LINES = ("train_loss", "val_loss")


def train_and_commit(archive: ModelArchive, key: ModelKey, *, steps: int = 300, lr: float = 0.05,
                     diverge_at: int | None = None, seed: int = 0, budget: int = 200) -> VersionRecord:
    torch.manual_seed(seed)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([1.5, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256)
    x_val, y_val = x[:64], y[:64]
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    rec = CurveRecorder(budget=budget)
    rec.chart("loss", list(LOSS_LINES), title="Loss", ylabel="MSE", yscale="log",
              labels={"train_loss": "train", "val_loss": "validation"})
    rec.chart("lr", ["lr"], title="Learning rate", ylabel="lr")
    rec.track_best("val_loss", mode="min")
    handle = archive.allocate(key)
    for step in range(steps):
        if diverge_at is not None and step == diverge_at:
            for group in opt.param_groups:
                group["lr"] = 1e6
        batch = torch.randint(0, 256, (32,))
        loss = torch.nn.functional.mse_loss(model(x[batch]).squeeze(-1), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.log(step, train_loss=loss.detach(), lr=opt.param_groups[0]["lr"])
        if step % 10 == 9:
            with torch.no_grad():
                rec.log(step, val_loss=torch.nn.functional.mse_loss(model(x_val).squeeze(-1), y_val))
    atomic_torch_save(model.state_dict(), handle.model_path)
    doc = rec.finalize()
    best = doc["best"]["value"] if doc["best"] else math.nan
    return archive.commit(handle, rec, metadata={"lr": lr}, metrics_summary={"val_loss": best})


def commit_large(archive: ModelArchive, key: ModelKey, *, budget: int = 4000, lines: int = 10,
                 steps: int = 40_000) -> VersionRecord:
    """A version with ``lines`` lines of about ``budget`` points each (spiky synthetic losses)."""
    gen = torch.Generator().manual_seed(1)
    rec = CurveRecorder(budget=budget)
    metrics = [f"m{i}" for i in range(lines)]
    rec.chart("loss", metrics[:5], yscale="log")
    rec.chart("other", metrics[5:])
    rec.track_best("m0", mode="min")
    t = torch.arange(steps, dtype=torch.float64)
    base = 1.0 / (1.0 + t / 1000.0)
    noise = torch.rand(lines, steps, generator=gen, dtype=torch.float64)
    columns = (base * (1 + 0.3 * noise) + torch.arange(lines, dtype=torch.float64)[:, None]).T.tolist()
    for step, row in enumerate(columns):
        rec.log(step, **dict(zip(metrics, row)))
    handle = archive.allocate(key)
    atomic_torch_save({"w": torch.zeros(1)}, handle.model_path)
    return archive.commit(handle, rec, metrics_summary={"m0": rec.finalize()["best"]["value"]})
