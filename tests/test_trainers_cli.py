"""End to end: `curvewatch train` in each mode, `predict`, `models`, the main job, bad input, a real
Prometheus scraping a training run."""

from __future__ import annotations

import json
import re

import pytest
import torch
from curvewatch.archive import ModelArchive, load_model
from curvewatch.cli import main
from curvewatch.trainers import (
    MODEL_TYPES,
    SeriesSpec,
    TrainConfig,
    TrainingManager,
    TrainRequest,
    generate_sales,
    main_job,
)
from fixtures.prometheus import wait_for

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
    from curvewatch.prom import Exporter

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


def _write_sales_csv(path, days=120):
    """The built-in generator's sales (2 stores x 2 products) as a CSV file."""
    data = generate_sales(stores=2, products=2, days=days, seed=1)
    lines = ["date,store_id,product_id,sales"]
    for d, date in enumerate(data.dates):
        for s, store in enumerate(data.store_ids):
            for p, product in enumerate(data.product_ids):
                lines.append(f"{date},{store},{product},{data.sales[d, s, p]:g}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--resume", "checkpoint_epoch_2.pth"],
     "--resume is not supported with --all-models; resume one model with --model"),
    (["--model", "kan"], "--model is not used with --all-models"),
])
def test_all_models_rejects_options_it_cannot_honour_before_anything_exists(tmp_path, capsys, args, message):
    assert main(["train", "--all-models", "--quick", "--root", str(tmp_path / "saved_models"), *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_all_models_passes_data_window_experiment_training_options_and_no_serve_through(tmp_path, capsys):
    csv_path = _write_sales_csv(tmp_path / "sales.csv")
    root = tmp_path / "saved_models"
    argv = ["train", "--all-models", "--quick", "--epochs", "1", "--data", str(csv_path), "--product", "P002",
            "--lookback", "10", "--horizon", "2", "--experiment", "exp-7", "--no-serve", "--quiet",
            "--lr", "0.01", "--batch-size", "16", "--seed", "3", "--device", "cpu", "--grad-clip", "0",
            "--root", str(root)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Prometheus endpoint" not in out and "curl -s" not in out  # --no-serve: no endpoint
    archive = ModelArchive(root)
    records = archive.list(status="complete")
    assert sorted(r.model_type for r in records) == sorted(MODEL_TYPES)
    for record in records:
        meta = load_model(record.path)[1]
        assert (meta["lookback"], meta["horizon"], meta["experiment"]) == (10, 2, "exp-7")
        training = meta["training"]  # what was given wins; the rest is the quick job's own (patience 3)
        assert (training["lr"], training["batch_size"], training["seed"], training["device"]) == (0.01, 16, 3, "cpu")
        assert (training["grad_clip"], training["epochs"], training["patience"]) == (None, 1, 3)
        assert meta["data_source"]["kind"] == "csv" and meta["data_source"]["path"] == str(csv_path.resolve())
        assert record.identifier == f"product_P002_all_{record.model_type}"
    archive.close()


def test_run_without_a_finite_val_loss_says_so_instead_of_crashing(tmp_path, capsys):
    diverge = ["--lr", "1e30", "--optimizer", "sgd", "--grad-clip", "0", "--scheduler", "none", "--no-serve"]
    assert main(["train", "--model", "tcn", "--product", "P001", "--root", str(tmp_path / "saved_models"), *FAST,
                 *diverge]) == 0
    out = capsys.readouterr().out
    assert "no finite val_loss" in out and "version: " in out
    lines: list[str] = []
    config = TrainConfig(epochs=1, lr=1e30, optimizer="sgd", grad_clip=None, scheduler="none", device="cpu")
    outcomes = main_job.run(tmp_path / "job" / "saved_models", models=("tcn",), config=config, serve=False, quiet=True,
                            out=lines.append)
    assert outcomes[0].fit.best_val_loss is None
    assert any(line.endswith("1 epochs, no finite val_loss") for line in lines)


def test_predict_finds_the_training_csv_from_anywhere_and_refuses_a_changed_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere").mkdir()
    csv_path = _write_sales_csv(tmp_path / "work" / "sales.csv")
    monkeypatch.chdir(tmp_path / "work")
    root = tmp_path / "saved_models"
    assert main(["train", "--model", "kan", "--product", "P001", "--data", "sales.csv", "--root", str(root),
                 "--no-serve", *FAST]) == 0
    with ModelArchive(root) as archive:
        version = archive.get("product_P001_all_kan").path
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the relative path given at training time no longer works
    predict = ["predict", "--version-path", str(version), "--days", "3", "--json"]
    assert main(predict) == 0
    assert len(json.loads(capsys.readouterr().out)["sales"]) == 3
    *lines, last = csv_path.read_text().splitlines()
    date_store_product, sales = last.rsplit(",", 1)
    csv_path.write_text("\n".join([*lines, f"{date_store_product},{float(sales) + 1:g}"]) + "\n")
    assert main(predict) == 2
    err = capsys.readouterr().err
    assert "has changed since this version was trained" in err and f"pass --data {csv_path}" in err
    assert main([*predict, "--data", str(csv_path)]) == 0  # the user's choice: the current content
    capsys.readouterr()
    csv_path.unlink()
    assert main(predict) == 2
    assert "which no longer exists; pass --data" in capsys.readouterr().err


def test_train_reads_the_archive_defaults_from_the_environment(tmp_path, monkeypatch, capsys):
    from curvewatch.archive.settings import DB_URL_ENV, ROOT_ENV

    root, db = tmp_path / "env_root", tmp_path / "db" / "env_registry.sqlite3"
    db.parent.mkdir()
    monkeypatch.setenv(ROOT_ENV, str(root))
    monkeypatch.setenv(DB_URL_ENV, f"sqlite:///{db}")
    assert main(["train", "--model", "tcn", "--product", "P001", "--no-serve", *FAST]) == 0
    assert f"version: {root / 'product' / 'P001_all' / 'tcn' / 'v1'}" in capsys.readouterr().out
    assert db.is_file() and not (tmp_path / "curvewatch_registry.sqlite3").exists()
    assert main(["versions", "list", "--json"]) == 0  # the same defaults as `curvewatch versions`
    assert [r["identifier"] for r in json.loads(capsys.readouterr().out)] == ["product_P001_all_tcn"]


def test_epochs_help_is_built_from_the_epoch_constants(capsys):
    from curvewatch.trainers._constants import DEFAULT_EPOCHS, QUICK_EPOCHS

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"epochs (default: {DEFAULT_EPOCHS}; {QUICK_EPOCHS} with --quick)" in help_text


def test_train_registers_its_endpoint_for_file_sd_while_it_runs(tmp_path, monkeypatch):
    from curvewatch.prom import discovery

    seen = []
    real_write = discovery.TargetFile.write

    def write(self):
        path = real_write(self)
        seen.append(json.loads(path.read_text()))
        return path

    monkeypatch.setattr(discovery.TargetFile, "write", write)
    targets = tmp_path / "targets"
    args = ["train", "--product", "P001", "--model", "kan", "--root", str(tmp_path / "m"), *FAST,
            "--sd-file", str(targets), "--sd-address", "trainer-7"]  # the real port is added
    assert main(args) == 0
    [[target]] = seen
    assert re.fullmatch(r"trainer-7:\d+", target["targets"][0])
    assert set(target["labels"]) == {"curvewatch_run_id", "curvewatch_rank"}  # up of a lost target names its run
    assert list(targets.glob("*.json")) == []  # removed when the endpoint stopped
