"""RunTracker: a user's own loop (real data, any metric) gets the recording, the endpoint and a committed,
verifiable version under experiments/; failures mark the version failed."""

from __future__ import annotations

import json
import logging

import curvewatch
import pytest
import requests
import torch
from curvewatch.archive import ModelArchive, ModelKey
from sklearn.datasets import load_digits


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def line_of(doc: dict) -> dict[str, dict]:
    return {line["metric"]: {**line, "chart": chart["name"]} for chart in doc["charts"] for line in chart["lines"]}


def test_user_loop_on_digits_with_val_acc_max_commits_a_complete_verifiable_version(tmp_path) -> None:
    torch.manual_seed(0)
    x, y, vx, vy = digits()
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    accs = []
    with curvewatch.RunTracker("digits-mlp", model_type="mlp_32", root=tmp_path / "saved_models",
                               best="val_acc", mode="max", hparams={"hidden": 32, "lr": 0.5}) as run:
        assert requests.get(run.url, timeout=5).status_code == 200
        for epoch in range(1, 6):
            for i in range(0, len(x), 200):
                loss = torch.nn.functional.cross_entropy(model(x[i:i + 200]), y[i:i + 200])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.log(train_loss=loss.detach(), lr=optimizer.param_groups[0]["lr"])
            with torch.no_grad():
                logits = model(vx)
                val_loss = torch.nn.functional.cross_entropy(logits, vy)
                val_acc = (logits.argmax(1) == vy).float().mean()
            accs.append(float(val_acc))
            run.epoch_end(epoch, model, optimizer=optimizer, val_loss=val_loss, val_acc=val_acc)
        body = requests.get(run.url, timeout=5).text
        assert 'metric="val_acc"' in body and 'chart="accuracy"' in body
        record = run.finish(model)
    archive = ModelArchive(tmp_path / "saved_models")
    identifier = "experiments/digits-mlp/mlp_32"
    assert record.identifier == identifier and record.path == tmp_path / "saved_models" / identifier / "v1"
    assert archive.verify(identifier) == []
    best_epoch = max(range(5), key=lambda i: (accs[i], -i)) + 1
    got = archive.get(identifier)
    assert got.status == "complete" and got.metrics_summary["best_epoch"] == best_epoch
    assert got.metrics_summary["val_acc"] == pytest.approx(max(accs))
    assert max(accs) > 0.5  # it learnt something: ten classes
    doc = json.loads((got.path / "curves.json").read_text())
    assert doc["best"]["metric"] == "val_acc" and doc["best"]["value"] == pytest.approx(max(accs))
    meta = json.loads((got.path / "metadata.json").read_text())
    assert meta["hparams"] == {"hidden": 32, "lr": 0.5}
    assert meta["tracking"]["best"] == "val_acc" and meta["tracking"]["mode"] == "max"
    best = torch.load(got.path / "checkpoint_best.pth", weights_only=True)
    assert best["epoch"] == best_epoch
    archive.close()


def test_best_checkpoint_follows_the_chosen_metric_and_mode(tmp_path) -> None:
    model = torch.nn.Linear(2, 1)
    values = [0.5, 0.7, float("nan"), 0.6, 0.9, float("inf")]
    with curvewatch.RunTracker("exp", root=tmp_path / "m", best="val_acc", mode="max", serve=False) as run:
        improved = []
        for epoch, value in enumerate(values, start=1):
            with torch.no_grad():
                model.weight.fill_(epoch)
            improved.append(run.epoch_end(epoch, model, val_acc=value))
            if improved[-1]:
                saved = torch.load(run.handle.best_checkpoint_path, weights_only=True)
                assert saved["epoch"] == epoch and saved["model"]["weight"][0, 0] == epoch
        run.finish(model)
    assert improved == [True, True, False, False, True, False]
    assert run.best_epoch == 5 and run.best_value == 0.9


def test_best_metric_logged_per_step_decides_at_epoch_end(tmp_path) -> None:
    with curvewatch.RunTracker("exp", root=tmp_path / "m", best="train_loss", serve=False) as run:
        run.log(train_loss=3.0)
        assert run.epoch_end(1) is True
        run.log(train_loss=4.0)
        assert run.epoch_end(2) is False
        assert run.global_step == 2
        run.finish(torch.nn.Linear(1, 1))


def test_log_uses_automatic_or_explicit_steps(tmp_path) -> None:
    with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False) as run:
        run.log(train_loss=1.0)
        run.log(train_loss=0.9)
        run.log(10, train_loss=0.8)
        run.log(train_loss=0.7)
        run.epoch_end(1, val_loss=0.5)
        record = run.finish(torch.nn.Linear(1, 1))
    lines = line_of(json.loads((record.path / "curves.json").read_text()))
    assert lines["train_loss"]["x"] == [1, 2, 10, 11]
    assert lines["val_loss"]["x"] == [11]


def test_finish_commits_model_from_an_existing_best_checkpoint_file(tmp_path) -> None:
    lightning_like = tmp_path / "epoch=3-step=30.ckpt"
    weights = torch.nn.Linear(3, 1).state_dict()
    torch.save({"epoch": 3, "state_dict": weights, "optimizer_states": []}, lightning_like)
    with curvewatch.RunTracker("exp", model_type="lit", root=tmp_path / "m", serve=False) as run:
        run.epoch_end(1, val_loss=0.1)
        record = run.finish(best_checkpoint=lightning_like)
    assert (record.path / "checkpoint_best.pth").read_bytes() == lightning_like.read_bytes()
    saved = torch.load(record.path / "model.pth", weights_only=True)
    assert torch.equal(saved["weight"], weights["weight"])
    assert ModelArchive(tmp_path / "m").verify(record.identifier) == []


def test_finish_without_a_model_uses_the_trackers_best_checkpoint(tmp_path) -> None:
    model = torch.nn.Linear(1, 1)
    with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False) as run:
        with torch.no_grad():
            model.weight.fill_(2.0)
        run.epoch_end(1, model, val_loss=0.1)
        with torch.no_grad():
            model.weight.fill_(5.0)
        run.epoch_end(2, model, val_loss=0.2)
        record = run.finish()
    assert torch.load(record.path / "model.pth", weights_only=True)["weight"][0, 0] == 2.0


def test_finish_without_any_weights_fails_with_a_sentence_and_marks_the_version_failed(tmp_path) -> None:
    with pytest.raises(ValueError, match="finish\\(\\) needs the model"):
        with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False) as run:
            run.finish()
    assert [r.status for r in ModelArchive(tmp_path / "m").list()] == ["failed"]


def test_leaving_without_finish_marks_the_version_failed(tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="curvewatch.tracking"):
        with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False) as run:
            run.log(train_loss=1.0)
    archive = ModelArchive(tmp_path / "m")
    assert [r.status for r in archive.list()] == ["failed"]
    status = json.loads((run.handle.path / "status.json").read_text())
    assert status["reason"] == "finish() was not called"
    assert any("without run.finish(model)" in r.getMessage() for r in caplog.records)
    run = curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False).start()  # without `with`
    run.close()
    assert [r.status for r in archive.list()] == ["failed", "failed"]
    archive.close()


def test_exception_or_fail_marks_the_version_and_the_run_failed(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with curvewatch.RunTracker("exp", root=tmp_path / "m"):
            raise RuntimeError("boom")
    run = curvewatch.RunTracker(ModelKey.experiment("exp", model_type="model"), root=tmp_path / "m")
    run.start()
    url = run.url
    run.fail("diverged")
    assert run.exporter.state == "failed"
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
    run.close()
    archive = ModelArchive(tmp_path / "m")
    assert [(r.version, r.status) for r in archive.list()] == [(1, "failed"), (2, "failed")]
    assert json.loads((run.handle.path / "status.json").read_text())["reason"] == "diverged"
    archive.close()


def test_tracker_keeps_the_error_of_a_finish_that_failed_after_the_mark(tmp_path) -> None:
    class RegistryDown(RuntimeError):
        pass

    def down(stage):
        if stage == "index":
            raise RegistryDown("registry down")

    archive = ModelArchive(tmp_path / "saved_models")
    archive._on_stage = down
    with pytest.raises(RegistryDown, match="registry down") as caught:
        with curvewatch.RunTracker(ModelKey.store("S004", model_type="linear"), archive=archive,
                                   serve=False) as run:
            run.epoch_end(1, val_loss=0.5)
            run.finish(torch.nn.Linear(2, 1))
    assert any("could not be marked failed" in note for note in caught.value.__notes__)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "maximum"}, "`mode` can be min, max, got 'maximum'"),
        ({"best": ""}, "`best` must be a metric name"),
        ({"ranks": "some"}, "`ranks` can be"),
        ({"checkpoint_every": -1}, "checkpoint_every must be an integer >= 0"),
        ({"model_type": "bad name"}, "use only ASCII letters, digits, '_', '-' and '.'"),
        ({"charts": [{"name": "x", "metrics": ["a"], "colour": "red"}]}, "A chart dict takes name, metrics"),
        ({"charts": [{"name": "x", "metrics": ["a"], "yscale": "cubic"}]}, "`yscale` can be linear, log, symlog"),
    ],
)
def test_bad_arguments_fail_in_the_constructor_with_a_sentence(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False, **kwargs)
    assert not (tmp_path / "m").exists()


def test_repr_is_compact(tmp_path) -> None:
    with curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False) as run:
        for _ in range(100):
            run.log(train_loss=1.0)
        assert repr(run) == "RunTracker('experiments/exp/model-v1', state='running', step=100)"
        run.epoch_end(1, val_loss=1.0)
        run.finish(torch.nn.Linear(1, 1))


def test_experiment_versions_are_rebuilt_and_guarded_like_the_seed_layout(tmp_path) -> None:
    from curvewatch.archive import RegistryCorruptError

    root = tmp_path / "m"
    for _ in range(2):
        with curvewatch.RunTracker("exp_1", model_type="resnet_18", root=root, serve=False) as run:
            run.epoch_end(1, val_loss=0.1)
            run.finish(torch.nn.Linear(1, 1))
    (root / "versions.json").unlink()
    archive = ModelArchive(root)
    with pytest.raises(RegistryCorruptError, match="missing but the archive has models"):
        archive.allocate(ModelKey.experiment("exp_1", model_type="resnet_18"))
    result = archive.rebuild()
    assert result.versions == {"experiments/exp_1/resnet_18": 2} and result.rows == 2 and not result.skipped
    assert [r.version for r in archive.list(status="complete")] == [1, 2]
    assert archive.allocate(ModelKey.experiment("exp_1", model_type="resnet_18")).version == 3
    archive.close()


def test_a_failed_start_leaves_nothing_reserved_or_serving(tmp_path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(curvewatch.PortInUseError):
            with curvewatch.RunTracker("exp", root=tmp_path / "m", port=port):
                pass
    archive = ModelArchive(tmp_path / "m")
    assert [r.status for r in archive.list()] == ["failed"]
    reason = json.loads((archive.list()[0].path / "status.json").read_text())["reason"]
    assert reason.startswith("PortInUseError")
    archive.close()


def test_log_hyperparams_takes_a_namespace_and_refuses_other_things_with_a_sentence(tmp_path) -> None:
    import argparse

    run = curvewatch.RunTracker("exp", root=tmp_path / "m", serve=False)
    run.log_hyperparams(argparse.Namespace(lr=0.1, path=tmp_path))
    run.log_hyperparams({"layers": (1, 2), "lr": 0.2})
    assert run.hparams == {"lr": 0.2, "path": str(tmp_path), "layers": [1, 2]}
    with pytest.raises(TypeError, match="takes a dict or an object with attributes"):
        run.log_hyperparams(5)


def test_serve_options_reach_the_endpoint(tmp_path) -> None:
    """File-based discovery, basic auth and the final-state grace, through RunTracker (and so through the
    Lightning and Hugging Face integrations, which pass their keywords on)."""
    targets = tmp_path / "targets"
    targets.mkdir()
    model = torch.nn.Linear(2, 1)
    options = {"sd_file": targets, "basic_auth": ("ops", "s3cret"), "final_grace": 0}
    with curvewatch.RunTracker("exp", root=tmp_path / "m", serve_options=options) as run:
        (target,) = targets.glob("*.json")
        assert json.loads(target.read_text())[0]["labels"]["curvewatch_run_id"] == run.run_id
        assert requests.get(run.url, timeout=5).status_code == 401
        assert requests.get(run.url, auth=("ops", "s3cret"), timeout=5).status_code == 200
        run.epoch_end(1, model, val_loss=0.5)
        run.finish(model)
    assert list(targets.glob("*.json")) == []  # the run is over: its target is gone


def test_serve_options_unknown_are_refused_with_a_sentence(tmp_path) -> None:
    with pytest.raises(TypeError, match=r"serve_options has unknown options \['sdfile'\]; it takes"):
        curvewatch.RunTracker("exp", root=tmp_path / "m", serve_options={"sdfile": tmp_path})
    assert not (tmp_path / "m").exists()
