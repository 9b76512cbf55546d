"""import-tb on event files written by torch.utils.tensorboard.SummaryWriter: every scalar, restarts, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from curvewatch.archive import ModelArchive
from curvewatch.cli import main
from curvewatch.integrations.tensorboard import RunScalars, read_logdir, read_run
from curvewatch.integrations.tensorboard.importer import archive_key
from curvewatch.recorder import load_document
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

BIG_STEPS = 100_000  # steps of loss/train in run "big"
RESTART_AT = 50_000  # the second writer of "big" re-logs from here
FIRST_WRITER_END = 60_000
NAN_STEP, INF_STEP, STALE_NAN_STEP = 30_000, 31_000, 55_000
VAL_EVERY = 1_000


def _train_loss(step: int, restarted: bool) -> float:
    rng = np.random.default_rng(step)
    base = 2.0 / (1 + step / 5_000) + 0.05 * rng.random() + (0.3 if restarted else 0.0)
    if step in (12_345, 77_777):
        base += 40.0 + step / 10_000  # spikes: the maxima
    if step == 88_888:
        base = -3.0  # the minimum
    return base


def _write_big(run_dir: Path) -> None:
    writer = SummaryWriter(str(run_dir), flush_secs=3600, max_queue=10_000)
    for step in range(FIRST_WRITER_END):
        value = _train_loss(step, False)
        value = {NAN_STEP: math.nan, INF_STEP: math.inf, STALE_NAN_STEP: math.nan}.get(step, value)
        writer.add_scalar("loss/train", value, step)
        if step % VAL_EVERY == VAL_EVERY - 1:
            writer.add_scalar("loss/val", 1.0 / (1 + step / VAL_EVERY), step)
    writer.close()
    writer = SummaryWriter(str(run_dir), flush_secs=3600, max_queue=10_000)  # a resumed job: a new event file
    for step in range(RESTART_AT, BIG_STEPS):
        writer.add_scalar("loss/train", _train_loss(step, True), step)
        if step % VAL_EVERY == VAL_EVERY - 1:
            writer.add_scalar("loss/val", 0.5 + abs(step - 80_000) / 100_000, step)
    writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tb") / "logs"
    _write_big(root / "big")
    for name, lr in (("small/lr-0.1", 0.1), ("small/lr_0.01", 0.01)):
        writer = SummaryWriter(str(root / name))
        for step in range(50):
            writer.add_scalar("acc", 1 - math.exp(-lr * step), step, new_style=True)  # a TF2-style tensor scalar
            writer.add_scalar("loss", math.exp(-lr * step), step)
        writer.close()
    return root


def _full(run_dir: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """TensorBoard's own reading of a tag, keeping everything (size guidance 0), then the resume rule applied:
    a step at or below the last one drops the points from that step on. (TensorBoard purges only after a
    SessionLog.START event, which torch's SummaryWriter never writes, so it keeps both attempts.)"""
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    points: list[tuple[int, float]] = []
    for event in acc.Scalars(tag):
        while points and points[-1][0] >= event.step:
            points.pop()
        points.append((event.step, event.value))
    return np.array([p[0] for p in points]), np.array([p[1] for p in points])


def test_every_scalar_is_read_in_full_with_restarts_resolved(logdir: Path) -> None:
    read = read_run("big", logdir / "big")
    assert [f["scalars"] for f in read.files] == [FIRST_WRITER_END + FIRST_WRITER_END // VAL_EVERY,
                                                  BIG_STEPS - RESTART_AT + (BIG_STEPS - RESTART_AT) // VAL_EVERY]
    for tag in ("loss/train", "loss/val"):
        steps, values = read.scalars.tag_arrays(tag)
        ref_steps, ref_values = _full(logdir / "big", tag)
        np.testing.assert_array_equal(steps, ref_steps)
        np.testing.assert_array_equal(values, ref_values)  # NaN == NaN here
    steps, _ = read.scalars.tag_arrays("loss/train")
    assert len(steps) == BIG_STEPS and steps[0] == 0 and steps[-1] == BIG_STEPS - 1
    assert {(r.tag, r.step, r.dropped) for r in read.scalars.restarts} == {
        ("loss/train", RESTART_AT, FIRST_WRITER_END - RESTART_AT),
        ("loss/val", RESTART_AT + VAL_EVERY - 1, (FIRST_WRITER_END - RESTART_AT) // VAL_EVERY),
    }


def test_restarts_are_resolved_per_tag() -> None:
    run = RunScalars()
    for step in range(10):
        run.add(step, "batch", float(step))
        if step % 5 == 4:
            run.add(step // 5, "epoch", float(step))  # its own step axis: never purges "batch"
    run.add(7, "batch", 70.0)  # a restart of "batch" at 7
    assert run.tag_arrays("batch")[0].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert run.tag_arrays("batch")[1][-1] == 70.0
    assert run.tag_arrays("epoch")[0].tolist() == [0, 1]
    assert [tuple(r) for r in run.restarts] == [("batch", 7, 3)]
    merged = list(run.by_step())
    assert [s for s, _ in merged] == list(range(8)) and merged[1][1] == {"batch": 1.0, "epoch": 9.0}


def test_import_keeps_every_extreme_and_the_first_nonfinite_value(logdir: Path, tmp_path: Path, capsys) -> None:
    root = tmp_path / "saved_models"
    rc = main(["import-tb", str(logdir), "--best", "loss/val", "--mode", "min", "--root", str(root),
               "--budget", "200"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "big: 100100 scalars in 2 tags, 2 restart(s)" in out.out
    with ModelArchive(root) as archive:
        records = {r.model_type: r for r in archive.list()}
        assert set(records) == {"big", "small.lr-0.1", "small.lr_0.01"}
        assert records["big"].identifier == "experiments/logs/big"
        big = records["big"]
        assert archive.verify(big.identifier, big.version) == []
    doc = load_document(big.path / "curves.json")
    lines = {line["metric"]: line for chart in doc["charts"] for line in chart["lines"]}
    steps, values = _full(logdir / "big", "loss/train")
    line = lines["loss/train"]
    kept = dict(zip(line["x"], line["y"]))
    finite = np.isfinite(values)
    for index in (int(np.argmin(np.where(finite, values, np.inf))), int(np.argmax(np.where(finite, values, -np.inf))),
                  0, len(steps) - 1):
        assert kept[int(steps[index])] == pytest.approx(float(values[index]), rel=0, abs=0)
    first_bad = int(np.flatnonzero(~finite)[0])
    assert int(steps[first_bad]) == NAN_STEP
    assert line["first_nonfinite"]["step"] == NAN_STEP and math.isnan(line["first_nonfinite"]["value"])
    assert line["points_logged"] == BIG_STEPS and len(line["x"]) <= 200 + 1
    assert line["nonfinite_count"] == int((~finite).sum()) == 2  # the stale NaN at 55,000 was re-logged over
    val_steps, val_values = _full(logdir / "big", "loss/val")
    assert doc["best"]["metric"] == "loss/val"
    assert doc["best"]["step"] == int(val_steps[np.argmin(val_values)])
    assert doc["best"]["value"] == float(val_values.min())
    meta = (big.path / "metadata.json").read_text()
    assert '"restarts"' in meta and '"loss/train"' in meta
    provenance = json.loads(meta)["provenance"]  # an imported version says where it came from, as any other
    assert provenance["packages"]["curvewatch"] and provenance["host"]


def test_import_makes_one_version_per_run_and_a_new_version_each_time(logdir: Path, tmp_path: Path) -> None:
    root = tmp_path / "saved_models"
    for _ in range(2):
        assert main(["import-tb", str(logdir / "small"), "--root", str(root), "--best", "acc", "--mode", "max"]) == 0
    with ModelArchive(root) as archive:
        records = archive.list()
    assert sorted((r.identifier, r.version) for r in records) == [
        ("experiments/small/lr-0.1", 1), ("experiments/small/lr-0.1", 2),
        ("experiments/small/lr_0.01", 1), ("experiments/small/lr_0.01", 2)]
    doc = load_document(records[0].path / "curves.json")
    assert doc["best"]["metric"] == "acc" and doc["best"]["step"] == 49  # tensor scalars read too


def _cli_error(args: list[str], capsys) -> str:
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    return err


def test_a_missing_or_empty_logdir_gets_a_sentence(tmp_path: Path, capsys) -> None:
    root = tmp_path / "saved_models"
    assert "does not exist" in _cli_error(["import-tb", str(tmp_path / "nope"), "--root", str(root)], capsys)
    (tmp_path / "empty").mkdir()
    assert "holds no TensorBoard event files" in _cli_error(
        ["import-tb", str(tmp_path / "empty"), "--root", str(root)], capsys)
    assert not root.exists()  # nothing is created for input that cannot be imported


def test_a_logdir_without_scalars_gets_a_sentence(tmp_path: Path, capsys) -> None:
    writer = SummaryWriter(str(tmp_path / "logs" / "run"))
    writer.add_histogram("weights", np.arange(10.0), 0)
    writer.add_text("notes", "hello", 0)
    writer.close()
    err = _cli_error(["import-tb", str(tmp_path / "logs"), "--root", str(tmp_path / "sm")], capsys)
    assert "no scalar values to import" in err and "weights" in err


def test_an_unknown_best_tag_gets_a_sentence_listing_the_tags(logdir: Path, tmp_path: Path, capsys) -> None:
    err = _cli_error(["import-tb", str(logdir / "small"), "--best", "val_acc", "--root", str(tmp_path)], capsys)
    assert "'val_acc'" in err and "acc, loss" in err


def test_a_truncated_event_file_is_imported_up_to_the_cut_with_a_sentence(tmp_path: Path, capsys) -> None:
    run = tmp_path / "logs" / "run"
    writer = SummaryWriter(str(run))
    for step in range(100):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    (path,) = run.glob("*tfevents*")
    path.write_bytes(path.read_bytes()[:-7])  # the last record loses its end
    (tmp_path / "logs" / "garbage").mkdir()
    (tmp_path / "logs" / "garbage" / "events.out.tfevents.0.host").write_bytes(b"not an event file at all")
    root = tmp_path / "sm"
    assert main(["import-tb", str(tmp_path / "logs"), "--root", str(root)]) == 0
    captured = capsys.readouterr()
    assert "stops short" in captured.err and "Traceback" not in captured.err
    assert "'garbage' has no scalar values" in captured.err
    reads = read_logdir(tmp_path / "logs")
    assert reads["run"].scalars.count == 99  # every complete record, nothing after the cut
    with ModelArchive(root) as archive:
        (record,) = archive.list()
    assert load_document(record.path / "curves.json")["charts"][0]["lines"][0]["points_logged"] == 99


@pytest.mark.parametrize(("experiment", "run_id", "identifier"), [
    ("logs", "version_0", "experiments/logs/version_0"),  # Lightning's TensorBoardLogger
    ("logs", "lr-0.1/seed_1", "experiments/logs/lr-0.1.seed_1"),
    ("my logs!", "x...y//z", "experiments/my-logs/x.y.z"),
    ("logs", "..", "experiments/logs/run"),
    ("", "v3", "experiments/tensorboard/run-v3"),  # "v3" alone would read as a version directory
    ("logs", "lr=0.1,bs=32", "experiments/logs/lr-0.1-bs-32"),
    ("logs", "a" * 100, "experiments/logs/" + "a" * 64),
])
def test_every_run_directory_gets_a_valid_archive_key(experiment: str, run_id: str, identifier: str) -> None:
    assert archive_key(experiment, run_id).identifier == identifier
