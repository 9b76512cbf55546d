"""Real components: a real Prometheus scrapes real training processes found through file discovery.

- Every PromQL expression of every dashboard panel, variable and recording rule returns data for a
  healthy run; every committed alert expression is valid and its selectors return data. (Its windows,
  up to an hour, cannot elapse here: that a healthy run raises nothing is checked in the end-to-end
  test with short windows.)
- A run pushed to a real Pushgateway is scraped by the generated honor_labels job and matched by
  the same selectors and recording rules as a scraped run.
- End to end: a run that goes NaN and a run that hangs make the right alerts fire in Prometheus and
  reach a webhook served by the test through a real Alertmanager (rules generated with short windows
  and ``for:`` through a config override), while a healthy run beside them, observed until every
  alert's windows and ``for:`` have elapsed for it, raises no alert, not even a pending one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from curvewatch.monitoring import (
    ALERT_PREFIX,
    DEFAULT_CONFIG,
    MonitoringConfig,
    alerts,
    dashboards,
    duration_seconds,
    generate_files,
    write_files,
)
from curvewatch.monitoring.prometheus_files import ALERTMANAGER_FILE, prometheus_config
from curvewatch.monitoring.promql import Queries
from fixtures.prometheus import ServerProcess, poll, query, wait_for

REPO = Path(__file__).resolve().parents[1]
TRAINER = Path(__file__).with_name("monitoring_trainer.py")
DATA_TIMEOUT_S = 40.0
_SELECTOR = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}")


@pytest.fixture
def trainers(tmp_path: Path) -> Iterator[Callable[[str, str], subprocess.Popen]]:
    """Factory: ``trainers(run_id, mode)`` starts tests/monitoring_trainer.py; stopped by PID at teardown."""
    targets = tmp_path / "targets"
    targets.mkdir()
    started: list[subprocess.Popen] = []

    def start(run_id: str, mode: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, str(TRAINER), run_id, mode, str(targets)], cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        return process

    start.targets = targets  # type: ignore[attr-defined]
    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _file_sd_job(targets: Path) -> dict:
    """The trainers job of prometheus/prometheus.yml, with the test's targets folder."""
    return {"job_name": DEFAULT_CONFIG.trainer_job,
            "file_sd_configs": [{"files": [str(targets / "*.json")], "refresh_interval": "1s"}]}


def _dashboard_expressions(run_id: str) -> list[tuple[str, str]]:
    """``(where, expr)`` of every panel query and variable of every dashboard, variables substituted."""
    found = []
    for uid, board in dashboards(DEFAULT_CONFIG).items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((f"{uid} / {panel['title']} / {target['refId']}", target["expr"]))
        for variable in board["templating"].get("list", []):
            inner = re.fullmatch(r"label_values\((.+), run_id\)", variable["query"])
            found.append((f"{uid} / ${variable['name']}", inner.group(1)))
    return [(where, expr.replace("$run_ids", run_id).replace("$run_id", run_id)) for where, expr in found]


def test_every_dashboard_and_recording_rule_expression_returns_data(prometheus_server, trainers) -> None:
    run_id = "live-healthy"
    trainers(run_id, "healthy")
    prom = prometheus_server(rule_files=sorted((REPO / "prometheus" / "rules").glob("*.yml")),
                             extra_scrape_configs=[_file_sd_job(trainers.targets)])
    wait_for(prom.url, f'curvewatch:val_train_gap:value{{run_id="{run_id}"}}', timeout=DATA_TIMEOUT_S)
    expressions = _dashboard_expressions(run_id)
    expressions += [(f"recording rule {r.record}", r.expr) for r in Queries(DEFAULT_CONFIG).recording_rules()]
    assert len(expressions) > 40
    for where, expr in expressions:
        result = wait_for(prom.url, expr, timeout=DATA_TIMEOUT_S)
        assert result, f"{where}: {expr!r} returned no data"
    for alert in alerts(DEFAULT_CONFIG):
        # Valid PromQL over real data; silence for a healthy run is checked with short windows below.
        assert isinstance(query(prom.url, alert.expr), list), alert.name
        for selector in _SELECTOR.findall(alert.expr):
            assert wait_for(prom.url, selector, timeout=DATA_TIMEOUT_S), f"{alert.name}: {selector} selects nothing"


def test_a_pushed_run_is_selected_like_a_scraped_one(prometheus_server, pushgateway_server) -> None:
    from curvewatch.prom import Exporter, RunInfo
    from curvewatch.trainers.recording import make_recorder

    recorder = make_recorder(budget=100)
    for step in range(1, 21):
        recorder.log(step, train_loss=1.0 / step, lr=0.01)
    recorder.log(20, train_mse=0.06, val_loss=0.08)
    gateway = pushgateway_server()
    Exporter(recorder, run=RunInfo(run_id="pushed-run", rank=0)).push(gateway.url)
    job = next(j for j in prometheus_config(DEFAULT_CONFIG)["scrape_configs"]
               if j["job_name"] == DEFAULT_CONFIG.pushgateway_job)
    job = {**job, "static_configs": [{"targets": [gateway.url.removeprefix("http://")]}]}
    prom = prometheus_server(rule_files=sorted((REPO / "prometheus" / "rules").glob("*.yml")),
                             extra_scrape_configs=[job])
    q = Queries(DEFAULT_CONFIG)
    state = wait_for(prom.url, f'{q.state_code}{{run_id="pushed-run"}}', timeout=DATA_TIMEOUT_S)
    assert state[0]["value"][1] == "1"  # running
    gap = wait_for(prom.url, f'{q.val_train_gap}{{run_id="pushed-run"}}', timeout=DATA_TIMEOUT_S)
    assert abs(float(gap[0]["value"][1]) - 0.02) < 1e-9


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict]

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.extend(json.loads(body)["alerts"])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:  # keep pytest's output clean
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []
    handler = type("Handler", (_Webhook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/curvewatch", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _fired(received: list[dict], alertname: str, run_id: str) -> dict | None:
    return next((a for a in received if a["labels"]["alertname"] == alertname
                 and a["labels"].get("run_id") == run_id and a["status"] == "firing"), None)


# Short windows and for: so that every alert can fire within the test (the healthy run's check is not
# vacuous); the healthy trainer improves every 10 steps (0.5 s), far under no_improvement_steps.
E2E_OVERRIDES = {
    "nonfinite_for": "1s", "stall_seconds": "3", "stall_for": "2s", "divergence_for": "1s",
    "trend_window": "10s", "overfitting_for": "1s", "no_improvement_steps": "60", "no_improvement_for": "1s",
    "rate_window": "5s", "baseline_window": "15s", "throughput_for": "1s", "target_down_for": "1s",
    "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h",
}


def _observed_long_enough_s(config: MonitoringConfig) -> float:
    """Seconds of scrapes after which every alert could have fired for a run: longest window + for."""
    windows = [config.trend_window, config.baseline_window, config.rate_window]
    longest = max(duration_seconds(w) for w in windows)
    longest = max(longest, config.stall_seconds)
    return longest + max(duration_seconds(a.for_) for a in alerts(config)) + 2


def _assert_healthy_run_raised_nothing(prom_url: str, config: MonitoringConfig, run_id: str,
                                       received: list[dict]) -> None:
    scraped = f'count_over_time(curvewatch_steps_total{{run_id="{run_id}"}}[1h])'
    wait_for(prom_url, scraped, lambda r: bool(r) and float(r[0]["value"][1]) >= _observed_long_enough_s(config),
             timeout=60)
    for alert in alerts(config):  # its inputs exist for the healthy run: the rule was really evaluated
        for selector in _SELECTOR.findall(alert.expr):
            if not selector.startswith("up{"):
                run_selector = selector[:-1] + f', run_id="{run_id}"}}'
                assert wait_for(prom_url, run_selector), f"{alert.name}: {run_selector} selects nothing"
    ever = query(prom_url, f'count_over_time(ALERTS{{run_id="{run_id}"}}[1h])')
    assert ever == [], f"the healthy run raised (pending or firing) {[a['metric'] for a in ever]}"
    assert not [a for a in received if a["labels"].get("run_id") == run_id], "the healthy run reached the webhook"


def test_nan_and_stalled_runs_reach_the_webhook_and_a_healthy_run_raises_nothing(
        tmp_path: Path, prometheus_server, alertmanager_server, trainers, webhook) -> None:
    url, received = webhook
    config = DEFAULT_CONFIG.with_overrides({**E2E_OVERRIDES, "webhook_url": url})
    bundle = tmp_path / "bundle"
    write_files(bundle, generate_files(config))
    manager: ServerProcess = alertmanager_server(config_yaml=(bundle / ALERTMANAGER_FILE).read_text())
    for run_id, mode in (("e2e-nan", "nan"), ("e2e-stall", "stall"), ("e2e-ok", "healthy")):
        trainers(run_id, mode)
    prom = prometheus_server(rule_files=sorted((bundle / "prometheus" / "rules").glob("*.yml")),
                             alertmanager_url=manager.url, extra_scrape_configs=[_file_sd_job(trainers.targets)])
    expected = {f"{ALERT_PREFIX}NonFiniteValues": "e2e-nan", f"{ALERT_PREFIX}TrainingStalled": "e2e-stall"}
    try:
        poll(lambda: all(_fired(received, name, run) for name, run in expected.items()), 90,
             f"{', '.join(expected)} at the webhook")
    except AssertionError as exc:
        firing = query(prom.url, 'ALERTS{alertstate="firing"}')
        raise AssertionError(f"{exc} Received: {received}; firing in Prometheus: {firing}; "
                             f"Alertmanager log: {manager.log_tail()}") from None
    by_name = {a.name: a for a in alerts(config)}
    for name, run_id in expected.items():
        alert = _fired(received, name, run_id)
        assert alert["labels"]["severity"] == by_name[name].severity
        assert alert["labels"]["job"] == config.trainer_job and alert["labels"]["rank"] == "0"
        assert alert["annotations"]["summary"] == by_name[name].summary
        assert alert["annotations"]["runbook_url"] == by_name[name].runbook_url(config)
        assert f"un {run_id} (rank 0)" in alert["annotations"]["description"]
    nan_alert = f"{ALERT_PREFIX}NonFiniteValues"
    nan_lines = {a["labels"]["metric"] for a in received if a["labels"]["alertname"] == nan_alert}
    assert config.batch_loss_metric in nan_lines  # the per-step loss goes non-finite first
    _assert_healthy_run_raised_nothing(prom.url, config, "e2e-ok", received)
