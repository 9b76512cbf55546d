"""Scrapes under load, reloads outside the lock, archived runs under their archive run id, basic auth's
scheme (issue 16, failures 6, 7 and 9; issue 15, item 6). Real endpoints on 127.0.0.1, bounded."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from curvewatch import CurveRecorder
from curvewatch.archive import ModelArchive, ModelKey, atomic_torch_save
from curvewatch.prom import Exporter, RunInfo
from curvewatch.prom import document_source as ds
from curvewatch.prom.server import MetricsServer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

SCRAPES = 200
SCRAPE_TIMEOUT_S = 20.0


def _recorder(steps: int = 100) -> CurveRecorder:
    rec = CurveRecorder(budget=16)
    rec.chart("loss", ["train_loss", "val_loss"])
    rec.track_best("val_loss", mode="min")
    for step in range(steps):
        rec.log(step, train_loss=1.0 / (step + 1), val_loss=abs(step - 40) + 1.0)
    return rec


def _scrape_raw(port: int, barrier: threading.Barrier, results: list[bool]) -> None:
    try:
        barrier.wait(SCRAPE_TIMEOUT_S)
        with socket.create_connection(("127.0.0.1", port), timeout=SCRAPE_TIMEOUT_S) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        results.append(data.startswith(b"HTTP/1.0 200") and b"curvewatch_step" in data)
    except (OSError, threading.BrokenBarrierError):
        results.append(False)


def test_a_burst_of_scrapes_is_answered_in_full() -> None:
    exporter = Exporter(_recorder(), run=RunInfo(run_id="storm", rank=0))
    port = exporter.start(0, "127.0.0.1")
    try:
        listening = int(subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                                       check=True).stdout.split()[2])
        assert listening >= 128  # ss shows a listening socket's backlog in Send-Q
        barrier, results = threading.Barrier(SCRAPES), []
        threads = [threading.Thread(target=_scrape_raw, args=(port, barrier, results)) for _ in range(SCRAPES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(SCRAPE_TIMEOUT_S + 10)
        assert len(results) == SCRAPES and all(results), f"{results.count(False)} of {SCRAPES} scrapes failed"
    finally:
        exporter.stop()


def test_scrapes_are_answered_while_a_document_reloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "curves.json"
    _recorder(50).save_json(path)
    source = ds.DocumentSource(path)
    previous = source.live()
    release, entered = threading.Event(), threading.Event()
    real_load = ds.load_document

    def slow_load(p: Path) -> dict:  # a large document's validation, held until the test says so
        entered.set()
        assert release.wait(30)
        return real_load(p)

    monkeypatch.setattr(ds, "load_document", slow_load)
    rec = _recorder(100)
    rec.save_json(tmp_path / "next.json")
    (tmp_path / "next.json").replace(path)
    reloader = threading.Thread(target=source.live)
    reloader.start()
    assert entered.wait(30)
    started = time.monotonic()
    assert source.live() is previous  # served at once, from the previous document
    assert time.monotonic() - started < 1.0
    release.set()
    reloader.join(30)
    assert source.live().step == 99


def test_an_invalid_new_document_keeps_the_previous_view(tmp_path: Path) -> None:
    path = tmp_path / "curves.json"
    _recorder(50).save_json(path)
    source = ds.DocumentSource(path)
    previous = source.live()
    path.write_bytes(b"[" * 100_000)
    assert source.live() is previous
    _recorder(70).save_json(path)
    assert source.live().step == 69


def _committed(tmp_path: Path, key: ModelKey) -> Path:
    with ModelArchive(tmp_path / "saved_models") as archive:
        handle = archive.allocate(key)
        atomic_torch_save({"w": 1}, handle.model_path)
        rec = _recorder()
        rec.finalize()
        archive.commit(handle, rec, metadata={"experiment": "nightly"})
        return handle.path / "curves.json"


@pytest.mark.parametrize(
    ("key", "scope"),
    [
        (ModelKey.product("P001", scope="S2", model_type="mlstm"), "S2"),
        (ModelKey.global_(scope=("custom", "S1", "P1"), aggregation="sum", model_type="tcn"), "custom/S1/P1"),
    ],
)
def test_archived_documents_carry_the_archive_run_id_and_labels(tmp_path: Path, key: ModelKey, scope: str) -> None:
    info = ds.archived_run_info(_committed(tmp_path, key))
    assert info is not None and info.run_id == f"{key.identifier}-v1"
    assert (info.model_type, info.mode, info.scope, info.version, info.experiment) == (
        key.model_type, key.mode, scope, "1", "nightly"
    )
    loose = tmp_path / "elsewhere" / "v1"
    loose.mkdir(parents=True)
    (loose / "curves.json").write_text("{}")
    assert ds.archived_run_info(loose / "curves.json") is None  # no status marker: not an archived run


def test_serve_exposes_an_archived_run_under_its_run_id(tmp_path: Path) -> None:
    key = ModelKey.product("P001", scope="all", model_type="kan")
    path = _committed(tmp_path, key)
    with subprocess.Popen([sys.executable, "-m", "curvewatch", "serve", str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            line = proc.stdout.readline()
            url = line.split(" on ")[1].split(" ")[0]
            text = requests.get(url, timeout=10).text
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    info = {s.labels["run_id"]: s.labels for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "curvewatch_run_info"}
    assert set(info) == {f"{key.identifier}-v1"}
    labels = info[f"{key.identifier}-v1"]
    assert (labels["model_type"], labels["mode"], labels["scope"], labels["version"]) == ("kan", "product", "all", "1")


def test_a_tampered_archived_document_is_never_served(tmp_path: Path) -> None:
    from curvewatch.recorder import CurveDocumentError

    path = _committed(tmp_path, ModelKey.product("P001", scope="all", model_type="kan"))
    source = ds.DocumentSource(path)
    previous = source.live()
    _recorder(70).save_json(path)  # a valid document, but not the one the manifest recorded
    assert source.live() is previous  # a reload keeps the committed view
    with pytest.raises(CurveDocumentError, match="was changed after commit.*curvewatch versions verify"):
        ds.DocumentSource(path)
    done = subprocess.run([sys.executable, "-m", "curvewatch", "serve", str(path), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "it is not served" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("scheme", "status"), [("Basic", 200), ("basic", 200), ("BASIC", 200), ("Bearer", 401)])
def test_the_basic_auth_scheme_is_case_insensitive(scheme: str, status: int) -> None:
    server = MetricsServer(CollectorRegistry(), basic_auth=("user", "secret"))
    server.start()
    try:
        token = base64.b64encode(b"user:secret").decode()
        reply = requests.get(server.url, headers={"Authorization": f"{scheme} {token}"}, timeout=10)
        assert reply.status_code == status
        wrong = base64.b64encode(b"user:wrong").decode()
        assert requests.get(server.url, headers={"Authorization": f"basic {wrong}"}, timeout=10).status_code == 401
    finally:
        server.stop()


def test_archived_run_info_matches_a_live_run_of_the_same_version(tmp_path: Path) -> None:
    key = ModelKey.store("S001", scope="all", model_type="transformer")
    info = ds.archived_run_info(_committed(tmp_path, key))
    meta = json.loads((tmp_path / "saved_models" / key.relative_dir / "v1" / "metadata.json").read_text())
    live = RunInfo(run_id=f"{key.identifier}-v1", model_type=key.model_type, mode="store", scope="all",
                   version=1, experiment=meta["experiment"],
                   host=meta.get("provenance", {}).get("host") or socket.gethostname(), rank=0)
    assert info is not None and info.run_id == live.run_id and info.info_labels() == live.info_labels()


def test_an_archived_run_tracker_run_joins_its_live_labels(tmp_path: Path) -> None:
    from curvewatch import RunTracker

    with RunTracker("digits-mlp", root=tmp_path / "saved_models", serve=True, port=0) as tracker:
        tracker.log(val_loss=1.0)
        tracker.log(val_loss=0.5)
        live = tracker.exporter.collector.runs()[0]
        tracker.finish({"w": 1})
    info = ds.archived_run_info(tracker.handle.path / "curves.json")
    assert info is not None and info.run_id == live.run_id and info.info_labels() == live.info_labels()
