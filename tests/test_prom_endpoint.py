"""The HTTP(S) endpoint: free ports, clear errors, TLS, mutual TLS, basic auth, ranks, stopping."""

from __future__ import annotations

import json
import logging
import socket
import threading
from pathlib import Path

import pytest
import requests
from curvewatch import CurveRecorder
from curvewatch.prom import CertificateFileError, Exporter, PortInUseError, RunInfo, watch
from fixtures.prometheus import free_port
from fixtures.tls import TlsFiles, make_tls_files


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def exporter() -> Exporter:
    rec = CurveRecorder(budget=100)
    rec.log(1, train_loss=0.5)
    exp = Exporter(rec, run=RunInfo(run_id="endpoint", rank=0))
    yield exp
    exp.stop()


def test_port_zero_picks_a_free_port_and_reports_it(exporter: Exporter) -> None:
    port = exporter.start(port=0)
    assert port and port > 0 and exporter.url == f"http://127.0.0.1:{port}/metrics"
    body = requests.get(exporter.url, timeout=5).text
    assert 'curvewatch_step{rank="0",run_id="endpoint"} 1.0' in body


def test_port_in_use_is_a_clear_error(exporter: Exporter) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            exporter.start(port=port)
    assert str(info.value) == (
        f"Port {port} on 127.0.0.1 is already in use; pass port=0 to pick a free one "
        "or stop the other process."
    )
    assert exporter.url is None


@pytest.mark.parametrize("option", ["certfile", "keyfile", "client_cafile"])
def test_missing_certificate_file_is_a_clear_error(exporter: Exporter, tls: TlsFiles, option: str) -> None:
    files = {"certfile": tls.server_cert, "keyfile": tls.server_key, "client_cafile": tls.ca_cert}
    files[option] = tls.ca_cert.parent / "missing.pem"
    with pytest.raises(CertificateFileError, match=rf"\({option}\) '.*missing.pem' does not exist"):
        exporter.start(**files)


def test_stop_frees_the_port(exporter: Exporter) -> None:
    port = exporter.start()
    exporter.stop()
    exporter.stop()  # idempotent
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # would raise if the endpoint still held it
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_basic_auth_refuses_without_credentials(exporter: Exporter) -> None:
    exporter.start(basic_auth=("prom", "s3cret"))
    assert requests.get(exporter.url, timeout=5).status_code == 401
    assert requests.get(exporter.url, auth=("prom", "wrong"), timeout=5).status_code == 401
    ok = requests.get(exporter.url, auth=("prom", "s3cret"), timeout=5)
    assert ok.status_code == 200 and "curvewatch_steps_total" in ok.text


def test_tls_serves_to_a_client_that_trusts_the_ca(exporter: Exporter, tls: TlsFiles) -> None:
    exporter.start(certfile=tls.server_cert, keyfile=tls.server_key)
    assert exporter.url.startswith("https://")
    assert "curvewatch_step" in requests.get(exporter.url, verify=tls.ca_cert, timeout=5).text


def test_mtls_refuses_a_client_without_certificate(exporter: Exporter, tls: TlsFiles) -> None:
    exporter.start(
        certfile=tls.server_cert, keyfile=tls.server_key, client_cafile=tls.ca_cert, client_auth_required=True
    )
    with pytest.raises(requests.exceptions.ConnectionError):  # SSLError or a reset, depending on timing
        requests.get(exporter.url, verify=tls.ca_cert, timeout=5)
    ok = requests.get(exporter.url, verify=tls.ca_cert, cert=(tls.client_cert, tls.client_key), timeout=5)
    assert ok.status_code == 200 and "curvewatch_step" in ok.text


def test_a_silent_client_does_not_stall_the_tls_endpoint(exporter: Exporter, tls: TlsFiles) -> None:
    exporter.start(certfile=tls.server_cert, keyfile=tls.server_key)
    with socket.create_connection(("127.0.0.1", exporter.port)):  # connects, never says hello
        assert requests.get(exporter.url, verify=tls.ca_cert, timeout=5).status_code == 200


def test_tls_options_without_certfile_are_refused(exporter: Exporter, tls: TlsFiles) -> None:
    with pytest.raises(ValueError, match="need TLS; pass certfile too"):
        exporter.start(client_cafile=tls.ca_cert)
    with pytest.raises(ValueError, match="client_auth_required=True needs client_cafile"):
        exporter.start(certfile=tls.server_cert, keyfile=tls.server_key, client_auth_required=True)


def test_ranks_all_serves_on_base_port_plus_local_rank() -> None:
    base = free_port() - 1
    exp = Exporter(CurveRecorder(), run="r", environ={"RANK": "3", "LOCAL_RANK": "1"})
    try:
        assert exp.start(port=base) == base + 1
        assert 'rank="3"' in requests.get(exp.url, timeout=5).text
    finally:
        exp.stop()


def test_ranks_zero_makes_other_ranks_a_noop() -> None:
    exp = Exporter(CurveRecorder(), run="r", ranks="zero", environ={"RANK": "2", "LOCAL_RANK": "0"})
    assert exp.active is False
    assert exp.start(port=0) is None and exp.url is None
    assert exp.push("http://127.0.0.1:1") == []  # no network call at all


def test_context_manager_serves_and_marks_a_crash_failed() -> None:
    exp = Exporter(CurveRecorder(), run="ctx")
    with pytest.raises(RuntimeError, match="diverged"), exp:
        assert requests.get(exp.url, timeout=5).status_code == 200
        raise RuntimeError("diverged")
    assert exp.state == "failed" and exp.url is None


def test_watch_gives_recorder_and_endpoint_and_marks_finished() -> None:
    with watch("plain-loop", budget=50, model_type="mlp") as (rec, exp):
        for step in range(20):
            rec.log(step, train_loss=1.0 / (step + 1))
        body = requests.get(exp.url, timeout=5).text
    assert 'curvewatch_steps_total{rank="0",run_id="plain-loop"} 20.0' in body
    assert exp.state == "finished" and exp.url is None


class FailingRecorder(CurveRecorder):
    def live(self):  # noqa: ANN201 - the recorder's own signature
        raise RuntimeError("live view broke")


def test_an_exception_in_live_is_logged_and_the_training_loop_continues(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = FailingRecorder(budget=100)
    done = threading.Event()
    with caplog.at_level(logging.ERROR, logger="curvewatch.prom.collector"), Exporter(rec, run="flaky") as exp:

        def train() -> None:
            for step in range(2000):
                rec.log(step, train_loss=float(step))
            done.set()

        trainer = threading.Thread(target=train)
        trainer.start()
        scrapes = [requests.get(exp.url, timeout=5) for _ in range(5)]
        trainer.join(timeout=60)
    assert done.is_set()
    assert all(r.status_code == 200 and "curvewatch_run_info{" in r.text for r in scrapes)
    assert any("live view broke" in str(r.exc_info[1]) for r in caplog.records)


def test_one_exporter_serves_several_runs_each_under_its_run_id() -> None:
    first, second = CurveRecorder(), CurveRecorder()
    first.log(5, train_loss=1.0)
    second.log(9, train_loss=2.0)
    exp = Exporter([(first, RunInfo(run_id="a", rank=0)), (second, RunInfo(run_id="b", rank=0))])
    assert exp.registry.get_sample_value("curvewatch_step", {"run_id": "a", "rank": "0"}) == 5.0
    assert exp.registry.get_sample_value("curvewatch_step", {"run_id": "b", "rank": "0"}) == 9.0
    with pytest.raises(ValueError, match="Pass run=RunInfo"):
        Exporter(CurveRecorder())


def test_sd_file_registers_the_endpoint_while_it_serves_and_removes_it_at_stop(tmp_path) -> None:
    rec = CurveRecorder(budget=8)
    exporter = Exporter(rec, run=RunInfo(run_id="sd-run"))
    port = exporter.start(port=0, sd_file=tmp_path / "targets")
    (target,) = (tmp_path / "targets").glob("*.json")
    labels = {"curvewatch_run_id": "sd-run", "curvewatch_rank": str(exporter.rank)}
    assert json.loads(target.read_text()) == [{"targets": [f"127.0.0.1:{port}"], "labels": labels}]
    exporter.stop()
    assert not target.exists()
    port = exporter.start(port=0, sd_file=tmp_path / "one.json", sd_address="trainer-7")
    assert json.loads((tmp_path / "one.json").read_text())[0]["targets"] == [f"trainer-7:{port}"]
    exporter.stop()
    assert not (tmp_path / "one.json").exists()
    mismatch = r"names port 1 but the endpoint serves on port \d+; pass sd_address='trainer-7'"
    with pytest.raises(ValueError, match=mismatch):
        exporter.start(port=0, sd_file=tmp_path / "two.json", sd_address="trainer-7:1")
    assert exporter.url is None and not (tmp_path / "two.json").exists()


def test_target_files_are_never_read_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prometheus' file SD reads targets/*.json; the temporary file a write goes through must not match it.
    import fnmatch
    import os

    from curvewatch.prom.discovery import TargetFile

    seen: list[str] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append(Path(src).name)
        assert fnmatch.filter(os.listdir(tmp_path), "*.json") == []  # the whole file exists only as temp
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    TargetFile(tmp_path / "run-1.json", "127.0.0.1:9100", {"curvewatch_run_id": "r1"}).write()
    assert len(seen) == 1 and not fnmatch.fnmatch(seen[0], "*.json") and not fnmatch.fnmatch(seen[0], "*.y*ml")
    assert json.loads((tmp_path / "run-1.json").read_text())[0]["targets"] == ["127.0.0.1:9100"]
