"""End to end: `curvewatch train` in each mode, `predict`, `models`, the main job, bad input, a real
Prometheus scraping a training run."""

from __future__ import annotations

import json

import pytest
import torch
from fixtures.prometheus import wait_for

from exporter.archive import ModelArchive, load_model
from exporter.cli import main
from trainers import SeriesSpec, TrainConfig, TrainingManager, TrainRequest, main_job

FAST = ["--quick", "--epochs", "2", "--lookback", "14", "--horizon", "3", "--quiet", "--checkpoint-every", "1"]


@pytest.mark.parametrize(("args", "identifier", "model"), [
    (["--mode", "product", "--product", "P002", "--scope", "S001"], "product_P002_S001_kan", "kan"),
    (["--mode", "store", "--store", "S002", "--scope", "all"], "store_S002_all_tcn", "tcn"),
    (["--mode", "global", "--scope", "custom", "--store", "S001", "--product", "P001", "--aggregation", "mean"],
     "global_custom_S001_P001_mean_transformer", "transformer"),
])
def test_train_produces_a_complete_verifiable_version_in_each_mode(tmp_path, capsys, args, identifier, model):
    root = tmp_path / "saved_models"
    assert main(["train", *args, "--model", model, "--root", str(root), *FAST]) == 0
    out = capsys.readouterr().out
    archive = ModelArchive(root)
    record = archive.get(identifier)
    assert f"version: {record.path}" in out and "gauges at http://127.0.0.1:" in out
    assert archive.verify(identifier) == []
    names = {p.name for p in record.path.iterdir()}
    assert {"model.pth", "checkpoint_best.pth", "checkpoint_epoch_1.pth", "checkpoint_epoch_2.pth",
            "curves.json", "loss_curve.png", "metadata.json", "manifest.json"} <= names
    state_dict, meta = load_model(record.path)
    assert meta["model_type"] == model and meta["result"]["epochs_run"] == 2
    assert all(isinstance(v, float) for v in meta["scaler"]["mean"] + meta["scaler"]["std"])
    assert meta["training"]["epochs"] == 2 and len(meta["history"]) == 2
    assert all(isinstance(t, torch.Tensor) for t in state_dict.values())
    assert record.metrics_summary["best_epoch"] == meta["result"]["best_epoch"]

    assert main(["predict", "--version-path", str(record.path), "--days", "5", "--json"]) == 0
    forecast = json.loads(capsys.readouterr().out)
    assert len(forecast["dates"]) == 5 and all(v >= 0 for v in forecast["sales"])


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "lstm"], "Unknown model 'lstm'; use one of mlstm, kan, tcn, transformer"),
    (["--mode", "weekly"], "Unknown mode 'weekly'"),
    (["--product", "P404"], "Product 'P404' is not in the data"),
    (["--mode", "store", "--store", "S001", "--scope", "P404"], "Product 'P404' is not in the data"),
    (["--lookback", "400"], "Too little data for one window"),
    (["--product", "P_1"], "contains '_'"),
    (["--optimizer", "lbfgs"], "Unknown optimizer 'lbfgs'"),
])
def test_bad_input_fails_clearly_before_any_directory_exists(tmp_path, capsys, args, message):
    root = tmp_path / "saved_models"
    base = ["train", "--quick", "--product", "P001", "--root", str(root), "--quiet"]
    assert main([*base, *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_data_file_fails_before_any_directory_exists(tmp_path, capsys):
    bad = tmp_path / "in" / "sales.csv"
    bad.parent.mkdir()
    bad.write_text("date,store_id,product_id,sales\n2024-01-01,S1,P1,-4\n")
    assert main(["train", "--data", str(bad), "--product", "P1", "--root", str(tmp_path / "out")]) == 2
    assert "line 2: negative sales" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_models_lists_the_four_model_types(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == ["mlstm", "kan", "tcn", "transformer"]


def test_main_job_archives_four_versions_and_says_where_they_are(tmp_path):
    lines: list[str] = []
    outcomes = main_job.run(tmp_path / "saved_models", epochs=2, quiet=True, out=lines.append)
    text = "\n".join(lines)
    assert [o.handle.key.model_type for o in outcomes] == ["mlstm", "kan", "tcn", "transformer"]
    for outcome in outcomes:
        assert (outcome.version_path / "curves.json").is_file()
        assert str(outcome.version_path / "curves.json") in text
        assert str(outcome.version_path / "loss_curve.png") in text
    assert "Prometheus endpoint at http://127.0.0.1:" in text and "curl -s http://127.0.0.1:" in text
    archive = ModelArchive(tmp_path / "saved_models")
    assert len(archive.list(status="complete")) == 4


def test_real_prometheus_scrapes_the_gauges_of_a_training_run(tmp_path, prometheus_server):
    from exporter.prom import Exporter

    exporter = Exporter()
    port = exporter.start(port=0, addr="127.0.0.1")
    prom = prometheus_server(scrape_targets=[f"127.0.0.1:{port}"])
    run_id = "product_P001_all_tcn-v1"
    seen_live = []

    def while_training(epoch_result, _):
        if epoch_result.epoch == 2:  # the run is live: Prometheus sees its epoch and running state
            seen_live.append(wait_for(prom.url, f'curvewatch_run_state{{run_id="{run_id}",state="running"}} == 1'))
            wait_for(prom.url, f'curvewatch_epoch{{run_id="{run_id}"}} >= 1')

    manager = TrainingManager(tmp_path / "saved_models", exporter=exporter, quiet=True)
    request = TrainRequest("tcn", SeriesSpec("product", product="P001"),
                           TrainConfig(epochs=3, checkpoint_every=0, device="cpu"), lookback=14, horizon=3,
                           model_params={"channels": 8, "levels": 2}, builtin=dict(main_job.QUICK_DATA))
    try:
        outcome = manager.train(request, on_epoch_end=[while_training])
        assert outcome.handle.run_id == run_id and seen_live
        finished = wait_for(prom.url, f'curvewatch_run_state{{run_id="{run_id}",state="finished"}} == 1')
        assert finished[0]["metric"]["job"] == "curvewatch"
        val = wait_for(prom.url, f'curvewatch_value{{run_id="{run_id}",metric="val_loss",chart="loss"}}')
        assert float(val[0]["value"][1]) == pytest.approx(outcome.fit.history[-1].val_loss, rel=1e-6)
        best = wait_for(prom.url, f'curvewatch_best_value{{run_id="{run_id}",metric="val_loss"}}')
        assert float(best[0]["value"][1]) == pytest.approx(outcome.fit.best_val_loss, rel=1e-6)
        info = wait_for(prom.url, f'curvewatch_run_info{{run_id="{run_id}"}}')
        assert info[0]["metric"]["model_type"] == "tcn" and info[0]["metric"]["mode"] == "product"
    finally:
        exporter.stop()
