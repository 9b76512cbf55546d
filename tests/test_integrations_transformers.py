"""CurvewatchCallback with a real transformers.Trainer: a tiny model from a config (no hub), 2 epochs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from curvewatch.archive import ModelArchive
from curvewatch.integrations.transformers import CurvewatchCallback
from curvewatch.recorder import load_document
from fixtures.archive import the_one_complete_version
from fixtures.prometheus import free_port, query, wait_for

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded: the model is built from a config here

import transformers  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.filterwarnings("ignore::FutureWarning")]

EPOCHS = 2
TRAIN, BATCH = 32, 8

SETUP = """
import torch, transformers

def model():
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)
    return transformers.BertForSequenceClassification(config)

class Tokens(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        gen = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 40, (n, 12), generator=gen)
        self.labels = (self.ids[:, 0] > 20).long()   # learnable from the first token
    def __len__(self):
        return len(self.ids)
    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(12, dtype=torch.long), "labels": self.labels[i]}

def args(out, **extra):
    options = dict(output_dir=str(out), num_train_epochs=2, per_device_train_batch_size=8,
                   per_device_eval_batch_size=16, learning_rate=5e-3, logging_steps=1, eval_strategy="epoch",
                   save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=0)
    return transformers.TrainingArguments(**{**options, **extra})
"""
namespace: dict = {}
exec(SETUP, namespace)  # the same helpers in this process and in the failing subprocess below


class WaitForScrape(transformers.TrainerCallback):
    """Holds the first epoch's end until a real Prometheus has scraped the run (polling, with a timeout)."""

    def __init__(self, prom_url: str, callback: CurvewatchCallback) -> None:
        self.prom_url, self.callback, self.scraped = prom_url, callback, []

    def on_epoch_end(self, args, state, control, **kwargs):
        if not self.scraped:
            run_id = self.callback.tracker.run_id
            self.scraped = wait_for(self.prom_url, f'curvewatch_value{{run_id="{run_id}",metric="loss"}}',
                                    timeout=30)


def test_a_train_commits_a_verified_version_with_the_best_evaluation(tmp_path: Path, prometheus_server) -> None:
    port = free_port()
    prom = prometheus_server(scrape_targets=[f"127.0.0.1:{port}"]).url
    root = tmp_path / "saved_models"
    callback = CurvewatchCallback(experiment="tokens", monitor="eval_loss", mode="min", root=root, port=port)
    scrape = WaitForScrape(prom, callback)
    evaluations: list[dict] = []

    class Keep(transformers.TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            evaluations.append({"step": state.global_step, "metrics": dict(metrics),
                                "weights": {k: v.detach().clone() for k, v in model.state_dict().items()}})

    args = namespace["args"](tmp_path / "out", save_strategy="epoch", load_best_model_at_end=True,
                             metric_for_best_model="eval_loss", greater_is_better=False)  # the Trainer keeps its best
    trainer = transformers.Trainer(model=namespace["model"](), args=args,
                                   train_dataset=namespace["Tokens"](TRAIN, 0),
                                   eval_dataset=namespace["Tokens"](16, 1), callbacks=[callback, scrape, Keep()])
    trainer.train()

    assert scrape.scraped, "Prometheus never scraped the endpoint during training"
    record = callback.record
    assert record is not None and record.identifier == "experiments/tokens/BertForSequenceClassification"
    with ModelArchive(root) as archive:
        assert archive.verify(record.identifier, record.version) == []
    doc = load_document(record.path / "curves.json")
    lines = {line["metric"]: line for chart in doc["charts"] for line in chart["lines"]}
    assert {"loss", "learning_rate", "grad_norm", "eval_loss"} <= set(lines)
    assert not {"epoch", "total_flos", "train_runtime", "eval_runtime", "train_loss"} & set(lines)
    assert lines["loss"]["points_logged"] == EPOCHS * TRAIN // BATCH
    eval_losses = [e["metrics"]["eval_loss"] for e in evaluations]
    assert lines["eval_loss"]["y"] == pytest.approx(eval_losses)
    best = min(range(EPOCHS), key=eval_losses.__getitem__)
    assert doc["best"]["metric"] == "eval_loss" and doc["best"]["step"] == evaluations[best]["step"]
    assert doc["best"]["value"] == pytest.approx(eval_losses[best])
    weights = torch.load(record.path / "model.pth", weights_only=True)
    assert all(torch.equal(weights[k], evaluations[best]["weights"][k]) for k in weights)
    ckpt = torch.load(record.path / "checkpoint_best.pth", weights_only=True)
    assert ckpt["global_step"] == evaluations[best]["step"] and ckpt["epoch"] == best + 1
    metadata = json.loads((record.path / "metadata.json").read_text())
    assert metadata["hparams"]["learning_rate"] == 5e-3 and metadata["hparams"]["num_train_epochs"] == EPOCHS
    assert Path(metadata["trainer_best_checkpoint"]).name == f"checkpoint-{evaluations[best]['step']}"
    seen = query(prom, f'last_over_time(curvewatch_run_info{{run_id="{record.run_id}"}}[5m])')
    assert seen and seen[0]["metric"]["experiment"] == "tokens"


def test_a_train_that_raises_leaves_a_failed_version(tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    script = SETUP + textwrap.dedent(f"""
        from curvewatch.integrations.transformers import CurvewatchCallback

        class Boom(transformers.TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 3:
                    raise RuntimeError("the GPU fell off the bus")

        callback = CurvewatchCallback(experiment="tokens", root={str(root)!r}, serve=False)
        transformers.Trainer(model=model(), args=args({str(tmp_path / "out")!r}), train_dataset=Tokens(32, 0),
                             eval_dataset=Tokens(16, 1), callbacks=[callback, Boom()]).train()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "the GPU fell off the bus" in result.stderr
    with ModelArchive(root) as archive:
        (row,) = archive.list()
    assert row.status == "failed"
    status = json.loads((root / row.identifier / f"v{row.version}" / "status.json").read_text())
    assert "did not complete" in status["reason"]


DDP_MAIN = """
import json, sys
from curvewatch.integrations.transformers import CurvewatchCallback

if __name__ == "__main__":
    root, out = sys.argv[1], sys.argv[2]
    callback = CurvewatchCallback(experiment="ddp", root=root)
    trainer = transformers.Trainer(model=model(), args=args(out, ddp_backend="gloo"), train_dataset=Tokens(32, 0),
                                   eval_dataset=Tokens(16, 1), callbacks=[callback])
    served = []
    class Served(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            served.append(callback.url is not None)
    trainer.add_callback(Served())
    trainer.train()
    rank = trainer.args.process_index
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"world": trainer.args.world_size, "served": any(served),
                   "committed": callback.record is not None}, f)
"""


@pytest.mark.timeout(300)
def test_under_torchrun_one_train_is_one_version_committed_by_the_main_process(tmp_path: Path) -> None:
    (tmp_path / "ddp.py").write_text(SETUP + DDP_MAIN)
    root = tmp_path / "saved_models"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(tmp_path / "ddp.py"), str(root),
           str(tmp_path)]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]  # a real two-process run
    assert [(r["served"], r["committed"]) for r in ranks] == [(True, True), (False, False)]  # ranks="zero"
    lines = the_one_complete_version(root, "experiments/ddp/BertForSequenceClassification")
    # 32 examples, 8 per process and step, 2 processes: 2 steps per epoch, 2 epochs, one evaluation each
    assert lines["loss"]["points_logged"] == 4 and lines["eval_loss"]["points_logged"] == EPOCHS
