"""CurvewatchLogger with a real Lightning fit: a verified version, its curves, the best checkpoint, live gauges."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from curvewatch.archive import ModelArchive
from curvewatch.integrations.lightning import CurvewatchLogger
from curvewatch.recorder import load_document
from fixtures.archive import the_one_complete_version
from fixtures.prometheus import free_port, query, wait_for
from lightning.pytorch.callbacks import ModelCheckpoint

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # Lightning's advice (num_workers, log_every_n_steps)
    pytest.mark.filterwarnings("ignore::FutureWarning:lightning.*"),  # Lightning on torch's pytree API
]

EPOCHS = 2


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 8, generator=gen)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).long()


class TinyClassifier(pl.LightningModule):
    def __init__(self, hidden: int = 16, fail_at_step: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
        self.val_losses: list[float] = []
        self._val: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        if self.hparams.fail_at_step is not None and self.global_step == self.hparams.fail_at_step:
            raise RuntimeError("the data loader broke")
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        self._val.append(loss.detach())
        self.log("val_loss", loss, on_epoch=True)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.val_losses.append(float(torch.stack(self._val).mean()))
        self._val.clear()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def _loaders():
    x, y = _data()
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:64], y[:64]), batch_size=16)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[64:], y[64:]), batch_size=32)
    return train, val


class WaitForScrape(pl.Callback):
    """Holds the first epoch's end until the real Prometheus has scraped this run (polling, with a timeout)."""

    def __init__(self, prom_url: str) -> None:
        self.prom_url, self.scraped = prom_url, []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self.scraped:
            run_id = trainer.logger.experiment.run_id
            self.scraped = wait_for(self.prom_url, f'curvewatch_steps_total{{run_id="{run_id}"}} > 0', timeout=30)


def _trainer(tmp_path: Path, logger: CurvewatchLogger, callbacks=(), **options) -> pl.Trainer:
    return pl.Trainer(max_epochs=EPOCHS, logger=logger, callbacks=list(callbacks), accelerator="cpu",
                      enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                      default_root_dir=str(tmp_path), **options)


def test_a_fit_commits_a_verified_version_with_the_best_checkpoint(tmp_path: Path, prometheus_server) -> None:
    port = free_port()
    prom = prometheus_server(scrape_targets=[f"127.0.0.1:{port}"]).url
    root = tmp_path / "saved_models"
    logger = CurvewatchLogger(experiment="digits", model_type="tiny-mlp", monitor="val_loss", mode="min",
                              root=root, port=port)
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_loss", mode="min")
    scrape = WaitForScrape(prom)
    module = TinyClassifier()
    _trainer(tmp_path, logger, [checkpoint, scrape]).fit(module, *_loaders())

    assert scrape.scraped, "Prometheus never scraped the endpoint during the fit"
    record = logger.record
    assert record is not None and record.identifier == "experiments/digits/tiny-mlp"
    with ModelArchive(root) as archive:
        assert archive.verify(record.identifier, record.version) == []
        assert archive.get(record.identifier, record.version).status == "complete"
    doc = load_document(record.path / "curves.json")
    lines = {line["metric"]: line for chart in doc["charts"] for line in chart["lines"]}
    assert {"train_loss", "val_loss", "val_acc"} <= set(lines) and "epoch" not in lines
    assert lines["train_loss"]["points_logged"] == EPOCHS * 4  # 64 samples / 16 per batch, every step
    val = lines["val_loss"]
    assert val["points_logged"] == EPOCHS
    assert val["y"] == pytest.approx(module.val_losses)  # the best point is one of them: no extra point
    best_epoch = min(range(EPOCHS), key=module.val_losses.__getitem__)
    ckpt = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    assert doc["best"]["metric"] == "val_loss" and doc["best"]["value"] == pytest.approx(module.val_losses[best_epoch])
    assert doc["best"]["step"] == val["x"][best_epoch]  # Lightning's step axis: its logger step, not global_step
    assert ckpt["epoch"] == best_epoch == record.metrics_summary["best_epoch"]
    weights = torch.load(record.path / "model.pth", weights_only=True)
    assert weights.keys() == ckpt["state_dict"].keys()
    assert all(torch.equal(weights[k], ckpt["state_dict"][k]) for k in weights)
    assert (record.path / "checkpoint_best.pth").read_bytes() == Path(checkpoint.best_model_path).read_bytes()
    metadata = json.loads((record.path / "metadata.json").read_text())
    assert metadata["hparams"]["hidden"] == 16
    seen = query(prom, f'last_over_time(curvewatch_run_info{{run_id="{record.run_id}"}}[5m])')  # endpoint gone
    assert seen and seen[0]["metric"]["experiment"] == "digits" and seen[0]["metric"]["model_type"] == "tiny-mlp"


def test_without_a_model_checkpoint_the_logger_keeps_the_best_epoch_itself(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    logger = CurvewatchLogger(experiment="digits", monitor="val_acc", mode="max", root=root, serve=False)
    module = TinyClassifier()
    trainer = _trainer(tmp_path, logger, enable_checkpointing=False)
    trainer.fit(module, *_loaders())
    trainer.validate(module, _loaders()[1])  # after the commit: not recorded, and the version stays complete
    record = logger.record
    with ModelArchive(root) as archive:
        assert archive.verify(record.identifier, record.version) == []
    doc = load_document(record.path / "curves.json")
    best = torch.load(record.path / "checkpoint_best.pth", weights_only=True)
    assert doc["best"]["metric"] == "val_acc" and best["global_step"] == doc["best"]["step"]
    weights = torch.load(record.path / "model.pth", weights_only=True)
    assert all(torch.equal(weights[k], best["model"][k]) for k in weights)
    assert math.isfinite(doc["best"]["value"])


def test_an_exception_in_fit_leaves_a_failed_version(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    logger = CurvewatchLogger(experiment="digits", root=root, serve=False)
    with pytest.raises(RuntimeError, match="the data loader broke"):
        _trainer(tmp_path, logger).fit(TinyClassifier(fail_at_step=5), *_loaders())
    with ModelArchive(root) as archive:
        (row,) = archive.list()
    assert row.status == "failed"
    status = json.loads((root / row.identifier / f"v{row.version}" / "status.json").read_text())
    assert status["state"] == "failed" and "failed" in status["reason"]



class TrainOnly(TinyClassifier):
    def validation_step(self, batch, batch_idx):  # no val_loss: the monitored metric is never logged
        return None

    def on_validation_epoch_end(self) -> None:
        pass


def test_a_monitor_that_is_never_logged_fails_the_version_with_a_sentence(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    logger = CurvewatchLogger(experiment="digits", monitor="val_loss", root=root, serve=False)
    with pytest.raises(ValueError, match="never logged"):
        _trainer(tmp_path, logger).fit(TrainOnly(), *_loaders())
    with ModelArchive(root) as archive:
        (row,) = archive.list()
    status = json.loads((root / row.identifier / f"v{row.version}" / "status.json").read_text())
    assert status["state"] == "failed" and "'val_loss'" in status["reason"] and "never logged" in status["reason"]


DDP_SCRIPT = '''
import sys, torch
import lightning.pytorch as pl
from curvewatch.integrations import CurvewatchLogger

class Regression(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
    def training_step(self, batch, i):
        loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss
    def validation_step(self, batch, i):
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]), sync_dist=True)
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
    def on_train_start(self):
        self.served = self.logger.url is not None  # while fit runs

if __name__ == "__main__":
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    data = lambda: torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    logger = CurvewatchLogger(experiment="ddp", root=sys.argv[1])
    trainer = pl.Trainer(max_epochs=2, logger=logger, accelerator="cpu", devices=2, strategy="ddp",
                         enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                         default_root_dir=sys.argv[2], enable_checkpointing=False)
    module = Regression()
    trainer.fit(module, data(), data())
    print("rank", trainer.global_rank, "served", module.served)
'''


@pytest.mark.timeout(600)
def test_under_ddp_one_fit_is_one_version_committed_by_rank_zero(tmp_path: Path) -> None:
    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    root = tmp_path / "saved_models"
    done = subprocess.run([sys.executable, "ddp.py", str(root), str(tmp_path / "pl")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(line for line in done.stdout.splitlines() if line.startswith("rank")) == [
        "rank 0 served True", "rank 1 served False"]  # ranks="zero": only rank 0 serves
    lines = the_one_complete_version(root, "experiments/ddp/model")
    assert lines["val_loss"]["points_logged"] == 2 and lines["train_loss"]["points_logged"] == 2 * 4


class SeeTargets(pl.Callback):
    """Reads the file_sd targets folder while the fit runs."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.seen = folder, []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seen += [(json.loads(p.read_text())[0]["labels"]["curvewatch_run_id"], trainer.logger.experiment.run_id)
                      for p in self.folder.glob("*.json")]


def test_serve_options_pass_through_to_the_endpoint(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    targets.mkdir()
    logger = CurvewatchLogger(experiment="digits", root=tmp_path / "saved_models",
                              serve_options={"sd_file": targets, "final_grace": 0})
    seer = SeeTargets(targets)
    _trainer(tmp_path, logger, callbacks=[seer]).fit(TinyClassifier(), *_loaders())
    assert seer.seen and all(label == run_id for label, run_id in seer.seen)  # registered while training
    assert list(targets.glob("*.json")) == [] and logger.record is not None  # and gone once committed
    with pytest.raises(TypeError, match="serve_options has unknown options"):
        CurvewatchLogger(experiment="digits", root=tmp_path / "saved_models", serve_options={"port": 1})
