"""``curvewatch serve`` and the saved-document source behind it."""

from __future__ import annotations

import math
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
from curvewatch import CurveRecorder
from curvewatch.prom import CurveCollector, RunInfo
from curvewatch.prom.document_source import DocumentSource
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families


def saved_run(path: Path) -> CurveRecorder:
    rec = CurveRecorder(budget=50)
    rec.chart("loss", ["train_loss", "val_loss"])
    rec.track_best("val_loss", mode="min")
    for step in range(300):
        rec.log(step, train_loss=math.nan if step == 17 else 10.0 / (step + 1), lr=0.01)
        if step % 10 == 9:
            rec.log(step, val_loss=abs(step - 149) + 1.0)
            rec.set_epoch(step // 10)
    rec.finalize()
    rec.save_json(path)
    return rec


def test_a_saved_document_gives_the_recorders_final_view(tmp_path: Path) -> None:
    rec = saved_run(tmp_path / "curves.json")
    live, saved = rec.live(), DocumentSource(tmp_path / "curves.json").live()
    assert (saved.step, saved.epoch, saved.steps_total, saved.finalized) == (
        live.step,
        live.epoch,
        live.steps_total,
        True,
    )
    by_metric = {line.metric: line for line in saved.lines}
    for line in live.lines:
        kept = by_metric[line.metric]
        assert (
            kept.chart,
            kept.step,
            kept.value,
            kept.points_total,
            kept.nonfinite_total,
            kept.first_nonfinite_step,
        ) == (line.chart, line.step, line.value, line.points_total, line.nonfinite_total, line.first_nonfinite_step)
    assert by_metric["train_loss"].window_max == 10.0 and saved.window_seconds == math.inf
    (best,) = saved.best
    assert (best.metric, best.mode, best.value, best.step, best.steps_since) == ("val_loss", "min", 1.0, 149, 150)


def test_the_collector_exposes_a_saved_document(tmp_path: Path) -> None:
    saved_run(tmp_path / "curves.json")
    registry = CollectorRegistry()
    CurveCollector(registry=registry).add(DocumentSource(tmp_path / "curves.json"), RunInfo(run_id="saved"))
    assert registry.get_sample_value("curvewatch_steps_total", {"run_id": "saved", "rank": "0"}) == 300.0
    assert (
        registry.get_sample_value("curvewatch_run_state", {"run_id": "saved", "rank": "0", "state": "finished"}) == 1.0
    )


def test_curvewatch_serve_exposes_a_document_until_terminated(tmp_path: Path) -> None:
    path = tmp_path / "mlp" / "v1" / "curves.json"
    path.parent.mkdir(parents=True)
    saved_run(path)
    argv = [sys.executable, "-m", "curvewatch", "serve", str(path), "--port", "0", "--model-type", "mlp"]
    with subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline()
            url = re.search(r"on (http://\S+) ", line).group(1)
            text = requests.get(url, timeout=5).text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    samples = {(s.name, s.labels.get("state", "")): s for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("curvewatch_run_state", "finished")].value == 1.0
    assert samples[("curvewatch_run_info", "")].labels["run_id"] == "mlp/v1"
    assert samples[("curvewatch_run_info", "")].labels["model_type"] == "mlp"


def test_curvewatch_serve_says_what_is_wrong_with_a_missing_document(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "curvewatch", "serve", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "nope.json does not exist; pass the path of a saved curves.json" in result.stderr
