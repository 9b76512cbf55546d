"""The endpoint_registrations table, the heartbeat and the sd-server's answers (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from curvewatch import CurveRecorder
from curvewatch.archive.registrations import (
    delete_registration,
    heartbeat,
    live_registrations,
    purge_stale,
    registrations,
)
from curvewatch.archive.registry import Registry
from curvewatch.discovery import EndpointRegistration, SDServer, target_groups
from curvewatch.discovery.settings import HEARTBEAT_ENV
from curvewatch.prom import Exporter, RunInfo
from fixtures.prometheus import poll


@pytest.fixture
def registry(registry_db_url: str):
    reg = Registry(registry_db_url)
    yield reg
    reg.dispose()


def _age(reg: Registry, address: str, seconds: float) -> None:
    """Make the heartbeat of ``address`` ``seconds`` older than it is (a trainer that stopped beating)."""
    with reg.engine.begin() as conn:
        conn.execute(registrations.update().where(registrations.c.address == address)
                     .values(heartbeat_at=registrations.c.heartbeat_at - seconds))


def _rows(reg: Registry) -> dict[str, dict]:
    with reg.engine.connect() as conn:
        return {r["address"]: r for r in (dict(x._mapping) for x in conn.execute(sa.select(registrations)))}


def test_the_table_is_created_with_the_registry_schema(registry) -> None:
    assert "endpoint_registrations" in sa.inspect(registry.engine).get_table_names()
    Registry(registry.url).dispose()  # opening it again changes nothing
    assert _rows(registry) == {}


def test_one_row_per_address(registry) -> None:
    with registry.engine.begin() as conn:
        heartbeat(conn, "10.0.0.7:9108", run_id="a", rank=0, labels={"team": "x"})
        heartbeat(conn, "10.0.0.7:9109", run_id="a", rank=1)
        heartbeat(conn, "10.0.0.7:9108", run_id="b", rank=0)  # a restarted trainer on the same port
    rows = _rows(registry)
    assert sorted(rows) == ["10.0.0.7:9108", "10.0.0.7:9109"]
    assert rows["10.0.0.7:9108"]["run_id"] == "b" and rows["10.0.0.7:9108"]["labels"] == {}
    assert rows["10.0.0.7:9109"]["rank"] == 1
    with registry.engine.begin() as conn:
        assert delete_registration(conn, "10.0.0.7:9109") == 1
        assert delete_registration(conn, "10.0.0.7:9109") == 0


def test_stale_heartbeats_are_not_live_and_are_purged(registry) -> None:
    with registry.engine.begin() as conn:
        heartbeat(conn, "h1:1", run_id="fresh", rank=0)
        heartbeat(conn, "h2:1", run_id="stale", rank=0)
    _age(registry, "h2:1", 61)
    with registry.engine.begin() as conn:
        assert [r["run_id"] for r in live_registrations(conn, max_age=60)] == ["fresh"]
        assert purge_stale(conn, max_age=60) == 1
        assert purge_stale(conn, max_age=60) == 0
    assert list(_rows(registry)) == ["h1:1"]


def test_a_heartbeat_restores_an_expired_row(registry) -> None:
    with registry.engine.begin() as conn:
        heartbeat(conn, "h:1", run_id="r", rank=3)
    _age(registry, "h:1", 100)
    with registry.engine.begin() as conn:
        purge_stale(conn, max_age=60)
        heartbeat(conn, "h:1", run_id="r", rank=3)
        assert [(r["address"], r["rank"]) for r in live_registrations(conn, max_age=60)] == [("h:1", 3)]


def test_registered_when_start_returns_and_stop_removes_the_entry(registry) -> None:
    with EndpointRegistration(registry.url, "10.1.2.3:9108", run_id="r1", rank=2, labels={"team": "fc"},
                              interval=0.2) as reg:
        row = _rows(registry)["10.1.2.3:9108"]
        assert (row["run_id"], row["rank"], row["labels"]) == ("r1", 2, {"team": "fc"})
        first = row["heartbeat_at"]
        poll(lambda: reg.beats >= 2, 10, "a second heartbeat")
        assert _rows(registry)["10.1.2.3:9108"]["heartbeat_at"] > first
    assert _rows(registry) == {}


def test_the_heartbeat_interval_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(HEARTBEAT_ENV, "2.5")
    assert EndpointRegistration("sqlite://", "h:1", run_id="r").interval == 2.5
    monkeypatch.setenv(HEARTBEAT_ENV, "often")
    with pytest.raises(ValueError, match="CURVEWATCH_SD_HEARTBEAT_S must be a number of seconds"):
        EndpointRegistration("sqlite://", "h:1", run_id="r")


def test_a_database_outage_never_stops_training(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "registry.sqlite3"
    blocker.mkdir()  # a directory where the database file goes: every heartbeat fails until it is gone
    url = f"sqlite:///{blocker}"
    with caplog.at_level(logging.WARNING, logger="curvewatch.discovery.heartbeat"):
        reg = EndpointRegistration(url, "h:9108", run_id="r", interval=0.1).start()  # no exception
    try:
        assert reg.beats == 0 and "could not register h:9108" in caplog.text
        blocker.rmdir()
        poll(lambda: reg.beats > 0, 20, "the heartbeat to reach the database once it is back")
        registry = Registry(url)
        assert list(_rows(registry)) == ["h:9108"]
    finally:
        reg.stop()
    assert _rows(registry) == {}
    registry.dispose()
    assert caplog.text.count("could not register") == 1  # at most once a minute


def test_a_malformed_registry_url_is_a_sentence() -> None:
    with pytest.raises(ValueError, match="is not a database URL"):
        EndpointRegistration("not a url", "h:1", run_id="r").start()


def test_the_exporter_registers_its_endpoint_until_it_stops(registry) -> None:
    exporter = Exporter(CurveRecorder(), run=RunInfo(run_id="exp-1", rank=0))
    port = exporter.start(port=0, registry_url=registry.url, sd_labels={"team": "fc"})
    try:
        row = _rows(registry)[f"127.0.0.1:{port}"]
        assert (row["run_id"], row["rank"], row["labels"]) == ("exp-1", 0, {"team": "fc"})
    finally:
        exporter.stop()
    assert _rows(registry) == {}
    with pytest.raises(requests.ConnectionError):  # the endpoint stopped with it
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_the_exporter_refuses_a_bad_registry_url_and_stops_serving() -> None:
    exporter = Exporter(CurveRecorder(), run="exp-2")
    with pytest.raises(ValueError, match="is not a database URL"):
        exporter.start(port=0, registry_url="::nonsense::")
    assert exporter.url is None


def test_labels_are_target_labels_and_run_and_rank_are_meta_labels() -> None:
    rows = [{"address": "h:1", "run_id": "r", "rank": 1, "labels": {"team": "fc"}}]
    assert target_groups(rows) == [{"targets": ["h:1"], "labels": {
        "__meta_curvewatch_rank": "1", "__meta_curvewatch_run_id": "r", "team": "fc"}}]


def test_only_live_registrations_are_served(registry) -> None:
    server = SDServer(registry, port=0, max_age=60)
    server.start()
    try:
        with registry.engine.begin() as conn:
            heartbeat(conn, "10.0.0.7:9108", run_id="live", rank=0, labels={"team": "fc"})
            heartbeat(conn, "10.0.0.8:9108", run_id="dead", rank=0)
        _age(registry, "10.0.0.8:9108", 120)
        response = requests.get(server.url, timeout=5)
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert [g["targets"] for g in response.json()] == [["10.0.0.7:9108"]]
        assert list(_rows(registry)) == ["10.0.0.7:9108"]  # the stale one was deleted
        assert requests.get(server.url.replace("/targets", "/-/ready"), timeout=5).status_code == 200
        missing = requests.get(server.url.replace("/targets", "/nope"), timeout=5)
        assert missing.status_code == 404 and "/targets" in missing.text
    finally:
        server.stop()


def test_a_database_outage_answers_503(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    registry = Registry(f"sqlite:///{path}")
    server = SDServer(registry, port=0)
    server.start()
    try:
        assert requests.get(server.url, timeout=5).json() == []
        registry.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.write_bytes(b"this is not a database" * 100)
        response = requests.get(server.url, timeout=5)
        assert response.status_code == 503 and "keeps its last targets" in response.text
    finally:
        server.stop()
        registry.dispose()


def test_sd_server_cli_errors_are_sentences(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CURVEWATCH_DB_URL", raising=False)
    cli = [sys.executable, "-m", "curvewatch", "sd-server"]
    missing = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "pass --db-url" in missing.stderr and "Traceback" not in missing.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run([*cli, "--db-url", f"sqlite:///{tmp_path / 'r.sqlite3'}", "--port", str(port)],
                               capture_output=True, text=True, timeout=60)
    assert taken.returncode == 1 and "choose another --port" in taken.stderr and "Traceback" not in taken.stderr


def test_watch_registers_its_endpoint_too(registry) -> None:
    from curvewatch.prom import watch

    with watch("watched", port=0, registry_url=registry.url, sd_labels={"team": "w"}) as (_, exporter):
        row = _rows(registry)[f"127.0.0.1:{exporter.port}"]
        assert (row["run_id"], row["labels"]) == ("watched", {"team": "w"})
    assert _rows(registry) == {}


def _two_free_ports() -> int:
    """A port p of 127.0.0.1 such that p and p + 1 were free a moment ago."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            base = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
            return base
    raise AssertionError("No two consecutive free ports on 127.0.0.1.")


def test_each_torchrun_rank_registers_its_own_address(registry) -> None:
    base, exporters = _two_free_ports(), []
    try:
        for rank, local_rank in ((2, 0), (3, 1)):  # two ranks of one host (RANK/LOCAL_RANK as torchrun sets them)
            exporter = Exporter(CurveRecorder(), run="ddp", environ={"RANK": str(rank), "LOCAL_RANK": str(local_rank)})
            assert exporter.start(port=base, registry_url=registry.url) == base + local_rank
            exporters.append(exporter)
        rows = _rows(registry)
        assert {a: (r["run_id"], r["rank"]) for a, r in rows.items()} == {
            f"127.0.0.1:{exporters[0].port}": ("ddp", 2), f"127.0.0.1:{exporters[1].port}": ("ddp", 3)}
    finally:
        for exporter in exporters:
            exporter.stop()
    assert _rows(registry) == {}


def test_the_registry_url_comes_from_the_environment_too(registry) -> None:
    exporter = Exporter(CurveRecorder(), run="env-run", environ={"CURVEWATCH_SD_REGISTRY_URL": registry.url})
    port = exporter.start(port=0)
    try:
        assert _rows(registry)[f"127.0.0.1:{port}"]["run_id"] == "env-run"
    finally:
        exporter.stop()
    assert _rows(registry) == {}
    plain = Exporter(CurveRecorder(), run="no-env", environ={})
    plain.start(port=0)
    try:
        assert _rows(registry) == {}  # without the variable nothing registers
    finally:
        plain.stop()


def test_a_bad_label_name_is_refused_before_anything_is_registered(registry) -> None:
    for name in ("team-name", "__meta_x", "1st", ""):
        with pytest.raises(ValueError, match="not valid Prometheus label names"):
            EndpointRegistration(registry.url, "h:1", run_id="r", labels={name: "v"})
    assert _rows(registry) == {}


def test_a_row_with_a_bad_label_name_is_left_out() -> None:
    rows = [{"address": "bad:1", "run_id": "r", "rank": 0, "labels": {"a-b": "v"}},
            {"address": "good:1", "run_id": "r", "rank": 0, "labels": {"a_b": "v"}}]
    assert [g["targets"] for g in target_groups(rows)] == [["good:1"]]


def test_the_run_id_follows_the_endpoints_runs(registry, monkeypatch) -> None:
    monkeypatch.setenv(HEARTBEAT_ENV, "0.1")
    exporter = Exporter()  # its runs come later, like `curvewatch train --all-models`
    try:
        port = exporter.start(port=0, registry_url=registry.url)
        address = f"127.0.0.1:{port}"
        assert _rows(registry)[address]["run_id"] == ""
        exporter.add(CurveRecorder(), "first")
        exporter.add(CurveRecorder(), "second")
        poll(lambda: _rows(registry)[address]["run_id"] == "first,second", 10, "the next heartbeat")
    finally:
        exporter.stop()
