"""grad_norm=True in the Lightning logger and the Hugging Face callback: the norm reaches the curves and gauges."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.filterwarnings("ignore::FutureWarning")]


def _line(doc: dict, metric: str) -> dict:
    return next(li for chart in doc["charts"] for li in chart["lines"] if li["metric"] == metric)


def test_lightning_grad_norm_is_measured_before_each_optimizer_step(tmp_path: Path) -> None:
    import lightning.pytorch as pl
    from curvewatch.integrations.lightning import CurvewatchLogger

    norms: list[float] = []

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def on_before_optimizer_step(self, optimizer) -> None:
            norms.append(float(torch.nn.utils.clip_grad_norm_(self.parameters(), float("inf"))))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)
    logger = CurvewatchLogger("gn-lightning", monitor="train_loss", root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db",
                              serve=False, grad_norm=True)
    trainer = pl.Trainer(max_epochs=2, logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, log_every_n_steps=1, accelerator="cpu")
    trainer.fit(Tiny(), data)
    reading = logger.experiment.grad_norm.reading()
    assert reading.steps == len(norms) == 8
    assert reading.last == pytest.approx(norms[-1], rel=1e-5)
    assert _line(logger.experiment.recorder.finalize(), "grad_norm")["y"] == pytest.approx(norms, rel=1e-5)


def test_transformers_grad_norm_feeds_the_gauges_from_the_trainers_own_norm(tmp_path: Path) -> None:
    import transformers
    from curvewatch.integrations.transformers import CurvewatchCallback

    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)
    ids = torch.randint(1, 40, (32, 12), generator=torch.Generator().manual_seed(1))

    class Tokens(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(ids)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": ids[i], "attention_mask": torch.ones(12, dtype=torch.long),
                    "labels": (ids[i, 0] > 20).long()}

    logged: list[float] = []
    readings: list = []

    class Keep(transformers.TrainerCallback):  # runs before CurvewatchCallback, which commits at on_train_end
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "grad_norm" in logs:
                logged.append(float(logs["grad_norm"]))

        def on_train_end(self, args, state, control, **kwargs):
            readings.append(callback.tracker.grad_norm.reading())

    callback = CurvewatchCallback("gn-hf", monitor="loss", root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db",
                                  serve=False, grad_norm=True)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=1,
                                          per_device_train_batch_size=8, logging_steps=1, save_strategy="no",
                                          report_to=[], use_cpu=True, disable_tqdm=True, seed=0, max_grad_norm=0.5)
    trainer = transformers.Trainer(model=transformers.BertForSequenceClassification(config), args=args,
                                   train_dataset=Tokens(), callbacks=[Keep(), callback])
    trainer.train()
    (reading,) = readings
    assert reading.steps == len(logged) == 4 and reading.last == pytest.approx(logged[-1])
    assert max(logged) > 0.5  # the Trainer's norm before clipping (max_grad_norm=0.5) is what is measured
