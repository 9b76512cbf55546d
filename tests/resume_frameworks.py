"""Lightning and Hugging Face runs for the resume tests, resumed the frameworks' own way:
``python resume_frameworks.py lightning|transformers ROOT WORKDIR full|kill|resume [--continue]``.

``kill`` is killed by SIGKILL when epoch 4 begins (epoch 3's checkpoint is saved); ``resume`` restarts from
that checkpoint (Lightning's ``ckpt_path``, the Trainer's ``resume_from_checkpoint``) and trains to epoch 6;
``typo`` monitors a metric that is never logged (``val_accuracy``/``eval_accuracy``)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

EPOCHS, KILL_AT = 6, 3  # 0-based epoch index whose start is killed: after three complete epochs


def data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=gen)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def lightning(root: str, workdir: Path, mode: str) -> None:
    import lightning.pytorch as pl
    from curvewatch.integrations.lightning import CurvewatchLogger
    from lightning.pytorch.callbacks import ModelCheckpoint

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

        def training_step(self, batch, batch_idx):
            loss = torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            logits = self.net(batch[0])
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, batch[1]))
            self.log("val_acc", (logits.argmax(1) == batch[1]).float().mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.3, momentum=0.9)

    class KillAt(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if mode == "kill" and trainer.current_epoch == KILL_AT:
                kill()

    pl.seed_everything(0)
    x, y = data()
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:64], y[:64]), batch_size=16)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[64:], y[64:]), batch_size=32)
    monitor = "val_accuracy" if mode == "typo" else "val_loss"
    logger = CurvewatchLogger(experiment="resume-lit", model_type="tiny", monitor=monitor, root=root, serve=False)
    checkpoints = ModelCheckpoint(dirpath=workdir / "ckpt", monitor="val_loss", mode="min", save_last=True)
    trainer = pl.Trainer(max_epochs=EPOCHS, logger=logger, callbacks=[KillAt(), checkpoints], accelerator="cpu",
                         enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                         default_root_dir=str(workdir))
    trainer.fit(Tiny(), train, val, ckpt_path=str(workdir / "ckpt" / "last.ckpt") if mode == "resume" else None)


def transformers(root: str, workdir: Path, mode: str, continue_version: bool) -> None:
    import transformers as hf
    from curvewatch.integrations.transformers import CurvewatchCallback

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    class Rows(torch.utils.data.Dataset):
        def __init__(self, x, y) -> None:
            self.x, self.y = x, y

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    class KillAt(hf.TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            if mode == "kill" and round(state.epoch or 0) == KILL_AT:
                kill()

    hf.set_seed(0)
    x, y = data()
    args = hf.TrainingArguments(output_dir=str(workdir / "hf"), num_train_epochs=EPOCHS, per_device_train_batch_size=16,
                                learning_rate=0.05, eval_strategy="epoch", save_strategy="epoch", logging_steps=1,
                                report_to=[], use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0)
    callback = CurvewatchCallback(experiment="resume-hf", model_type="tiny", root=root, serve=False,
                                  monitor="eval_accuracy" if mode == "typo" else "eval_loss",
                                  continue_version=continue_version)
    trainer = hf.Trainer(model=Tiny(), args=args, train_dataset=Rows(x[:64], y[:64]), eval_dataset=Rows(x[64:], y[64:]),
                         callbacks=[KillAt(), callback])
    last = max((workdir / "hf").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])) \
        if mode == "resume" else None
    trainer.train(resume_from_checkpoint=None if last is None else str(last))


if __name__ == "__main__":
    framework, root, workdir, mode = sys.argv[1:5]
    if framework == "lightning":
        lightning(root, Path(workdir), mode)
    else:
        transformers(root, Path(workdir), mode, "--continue" in sys.argv[5:])
