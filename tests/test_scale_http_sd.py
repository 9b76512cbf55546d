"""HTTP service discovery end to end: real PostgreSQL, `curvewatch sd-server`, Prometheus 2.42 and trainers.

Trainers run as separate processes on different loopback addresses (127.0.0.2, .3, .4: three "hosts"),
register through ``Exporter.start(registry_url=...)`` and are found by a Prometheus whose only scrape job is
``http_sd_configs`` pointed at the sd-server. Prometheus 2.42 hands discovered targets to the scrape loop on a
fixed 5 s tick and its scrape manager reloads on another, so "within one refresh" means refresh_interval
(1 s) + up to 10 s of those ticks + one scrape.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from curvewatch.discovery.settings import HEARTBEAT_ENV, SD_PATH
from curvewatch.monitoring import DEFAULT_CONFIG, check_files, generate_files
from curvewatch.monitoring.hosts import HOSTS_PROMETHEUS_FILE, SD_REFRESH, SD_URL, hosts_prometheus_config
from fixtures.prometheus import ServerProcess, free_port, poll, query, start_prometheus, wait_for

REPO = Path(__file__).resolve().parents[1]
TRAINER = Path(__file__).with_name("scale_trainer.py")
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
LATE_HOST = "127.0.0.5"
MAX_AGE_S = 4.0  # the sd-server's --max-age: a killed trainer's entry is gone this long after its last beat
HEARTBEAT_S = "0.5"
# refresh_interval + Prometheus 2.42's discovery and scrape-reload ticks (5 s each) + one scrape
ONE_REFRESH_S = 1.0 + 5.0 + 5.0 + 1.0
START_TIMEOUT_S = 60.0


def _start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env=env)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture(scope="module")
def registry(postgres_server) -> str:
    return postgres_server.create_database("scale_http_sd")


@pytest.fixture(scope="module")
def sd_server(registry: str) -> Iterator[str]:
    port = free_port()
    process = _start([sys.executable, "-m", "curvewatch", "sd-server", "--db-url", registry,
                      "--port", str(port), "--max-age", str(MAX_AGE_S)])
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"sd-server exited: {process.stdout.read()}")
        try:
            return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    poll(ready, START_TIMEOUT_S, "the sd-server to be ready")
    yield url + SD_PATH
    _stop(process)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, sd_server: str) -> Iterator[ServerProcess]:
    # The trainer job of the generated deploy/hosts/prometheus.yml, pointed at this test's sd-server.
    job = next(j for j in hosts_prometheus_config(DEFAULT_CONFIG)["scrape_configs"]
               if j["job_name"] == DEFAULT_CONFIG.trainer_job)
    assert job["http_sd_configs"] == [{"url": SD_URL, "refresh_interval": SD_REFRESH}]
    job["http_sd_configs"] = [{"url": sd_server, "refresh_interval": "1s"}]
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"), extra_scrape_configs=[job])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trainers(registry: str, sd_server: str) -> Iterator[dict[str, subprocess.Popen[str]]]:
    env = {**os.environ, HEARTBEAT_ENV: HEARTBEAT_S}
    processes = {host: _start([sys.executable, str(TRAINER), f"run-{host}", host, registry], env) for host in HOSTS}
    try:
        for host, process in processes.items():
            line = process.stdout.readline()
            assert line.startswith(f"serving {host}:"), f"trainer on {host} said {line!r}"
        yield processes
    finally:
        for process in processes.values():
            _stop(process)


def _sd_addresses(sd_url: str) -> set[str]:
    response = requests.get(sd_url, timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    return {target for group in response.json() for target in group["targets"]}


def _target_hosts(prom_url: str) -> set[str]:
    body = requests.get(f"{prom_url}/api/v1/targets", timeout=5).json()
    return {t["labels"]["instance"].rsplit(":", 1)[0] for t in body["data"]["activeTargets"]}


def test_trainers_on_three_hosts_appear_within_one_refresh_and_are_scraped(prometheus, trainers, sd_server) -> None:
    registered = time.monotonic()
    assert {a.rsplit(":", 1)[0] for a in _sd_addresses(sd_server)} == set(HOSTS)
    result = wait_for(prometheus.url, 'curvewatch_step{job="curvewatch"} > 0', lambda r: len(r) == len(HOSTS),
                      timeout=ONE_REFRESH_S + 20)
    # Prometheus needs up to its 5 s reload tick after start; every later registration shows within one refresh.
    assert time.monotonic() - registered < ONE_REFRESH_S + 10
    by_host = {s["metric"]["instance"].rsplit(":", 1)[0]: s["metric"] for s in result}
    assert set(by_host) == set(HOSTS)
    up = {s["metric"]["instance"].rsplit(":", 1)[0]: s["metric"] for s in query(prometheus.url, 'up{job="curvewatch"}')}
    for host, labels in by_host.items():
        assert labels["run_id"] == f"run-{host}" and labels["team"] == "scale" and labels["rank"] == "0"
        assert not any(name.startswith(("__meta", "curvewatch_")) for name in labels)  # kept off the series
        # ... and on `up`, as a target file's labels are: TargetDown names the run that went away
        assert (up[host]["curvewatch_run_id"], up[host]["curvewatch_rank"]) == (f"run-{host}", "0")


def test_a_trainer_that_ends_disappears(prometheus, trainers, sd_server) -> None:
    host = HOSTS[0]
    wait_for(prometheus.url, f'up{{instance=~"{host}:.*"}} == 1')
    _stop(trainers[host])  # SIGTERM: the run finishes and deletes its registration
    assert trainers[host].returncode == 0
    assert host not in {a.rsplit(":", 1)[0] for a in _sd_addresses(sd_server)}
    poll(lambda: host not in _target_hosts(prometheus.url), ONE_REFRESH_S + 10, f"{host} to leave the targets")
    assert set(HOSTS[1:]) <= _target_hosts(prometheus.url)


def test_a_killed_trainers_entry_expires(prometheus, trainers, sd_server) -> None:
    host = HOSTS[1]
    wait_for(prometheus.url, f'up{{instance=~"{host}:.*"}} == 1')
    trainers[host].send_signal(signal.SIGKILL)
    trainers[host].wait(timeout=10)
    killed = time.monotonic()
    # The entry outlives the process until its heartbeat is MAX_AGE_S old, then the sd-server drops it.
    assert host in {a.rsplit(":", 1)[0] for a in _sd_addresses(sd_server)}
    poll(lambda: host not in {a.rsplit(":", 1)[0] for a in _sd_addresses(sd_server)}, MAX_AGE_S + 10,
         f"{host}'s entry to expire")
    assert time.monotonic() - killed >= MAX_AGE_S - float(HEARTBEAT_S) - 0.5
    poll(lambda: host not in _target_hosts(prometheus.url), ONE_REFRESH_S + 10, f"{host} to leave the targets")
    assert HOSTS[2] in _target_hosts(prometheus.url)
    assert query(prometheus.url, f'up{{instance=~"{HOSTS[2]}:.*"}} == 1')


def test_a_trainer_started_later_is_scraped_within_one_refresh(prometheus, trainers, registry, sd_server) -> None:
    wait_for(prometheus.url, 'up{job="curvewatch"} == 1', lambda r: len(r) >= 1)  # discovery is running
    env = {**os.environ, HEARTBEAT_ENV: HEARTBEAT_S}
    late = _start([sys.executable, str(TRAINER), "run-late", LATE_HOST, registry], env)
    try:
        assert late.stdout.readline().startswith(f"serving {LATE_HOST}:")
        registered = time.monotonic()
        result = wait_for(prometheus.url, 'curvewatch_step{run_id="run-late"}', timeout=ONE_REFRESH_S + 10)
        assert time.monotonic() - registered <= ONE_REFRESH_S + 2
        assert result[0]["metric"]["instance"].startswith(f"{LATE_HOST}:")
    finally:
        _stop(late)


def test_the_hosts_prometheus_config_is_generated_checked_and_valid() -> None:
    files = generate_files(DEFAULT_CONFIG)
    assert HOSTS_PROMETHEUS_FILE in files and check_files(REPO, files) == []
    checked = subprocess.run(["promtool", "check", "config", str(REPO / HOSTS_PROMETHEUS_FILE)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 rule files found" in checked.stdout  # the generated rules, found relative to the file
