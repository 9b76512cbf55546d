"""Final states are always seen, and a crashed run pages someone (real Prometheus, Alertmanager, processes).

- The final-state grace (``exporter/prom/final_state.py``): nobody scraped and nobody was told → no
  wait; each recent scraper (told apart by address) must scrape once more; a written target file waits
  for the first scrape; never longer than the grace.
- A run failing by exception inside ``RunTracker`` with its endpoint serving is scraped as ``failed``; so is
  a bundled trainer's (``TrainingManager``), and the generated ``CurvewatchRunFailed`` fires for it.
- End to end: a run SIGKILLed while running fires ``CurvewatchRunVanished`` through a real Alertmanager
  to the test's webhook; a run failing by exception inside ``watch(sd_file=...)`` is scraped as
  ``failed`` (its target file kept until then) and raises no vanished alert; both count in the
  Overview's *Runs failed*; ``CurvewatchTargetDown`` of the killed run carries its run id.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import pytest
from curvewatch.monitoring import ALERT_PREFIX, DEFAULT_CONFIG, generate_files, write_files
from curvewatch.monitoring._variables import FILTER_LABELS
from curvewatch.monitoring.prometheus_files import ALERTMANAGER_FILE
from curvewatch.prom import Exporter, RunInfo
from curvewatch.prom.final_state import FinalStateGrace
from curvewatch.recorder import CurveRecorder
from fixtures.monitoring import dashboard_expressions, file_sd_job, fired
from fixtures.prometheus import poll, query, wait_for
from monitoring_trainer import FINAL_GRACE_S

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60.0


def _scrape(port: int, source: str) -> int:
    """One scrape of the endpoint from the loopback address ``source`` (127.0.0.x): the status code."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _exporter(grace: float = 5.0) -> Exporter:
    recorder = CurveRecorder(budget=8)
    recorder.log(1, train_loss=1.0)
    return Exporter(recorder, run=RunInfo(run_id="grace-run", rank=0), final_grace=grace)


def test_final_grace_without_any_scraper_or_target_file_stops_at_once() -> None:
    exporter = _exporter(grace=30.0)
    exporter.start(port=0)
    exporter.state = "finished"
    started = time.monotonic()
    assert exporter.stop() == 0.0 and time.monotonic() - started < 1.0
    assert exporter.url is None


def test_final_grace_waits_until_every_recent_scraper_scraped_the_final_state() -> None:
    exporter = _exporter(grace=20.0)
    port = exporter.start(port=0)
    assert _scrape(port, "127.0.0.2") == 200 and _scrape(port, "127.0.0.3") == 200
    exporter.state = "failed"
    done = threading.Event()
    waited: list[float] = []
    thread = threading.Thread(target=lambda: (waited.append(exporter.stop()), done.set()))
    thread.start()
    assert _scrape(port, "127.0.0.2") == 200
    assert not done.wait(0.5), "stopped before 127.0.0.3 scraped the final state"
    assert _scrape(port, "127.0.0.3") == 200
    assert done.wait(5.0), "still serving after every scraper saw the final state"
    thread.join(timeout=5)
    assert 0.5 <= waited[0] < 20.0


def test_final_grace_never_exceeds_its_length_and_keeps_the_target_file_meanwhile(tmp_path: Path) -> None:
    exporter = _exporter(grace=1.5)
    exporter.start(port=0, sd_file=tmp_path / "targets")
    (target,) = (tmp_path / "targets").glob("*.json")
    exporter.state = "finished"
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(target.exists()))
    started = time.monotonic()
    timer = threading.Timer(0.7, thread.start)
    timer.start()
    waited = exporter.stop()  # announced by the file, never scraped: waits the whole grace
    assert 1.4 <= waited and time.monotonic() - started < 4.0
    thread.join(timeout=5)
    assert seen == [True] and not target.exists()


def test_final_grace_is_skipped_on_a_running_run_and_by_stop_grace_zero() -> None:
    exporter = _exporter(grace=30.0)
    port = exporter.start(port=0)
    assert _scrape(port, "127.0.0.2") == 200
    assert exporter.stop() == 0.0  # still running: nothing final to show
    exporter.start(port=0)
    exporter.state = "finished"
    assert exporter.stop(grace=0) == 0.0
    with pytest.raises(ValueError, match="`final_grace` must be a number of seconds, 0 or more"):
        FinalStateGrace(-1)


def test_a_run_failing_inside_run_tracker_with_its_endpoint_serving_is_scraped_as_failed(
        tmp_path: Path, prometheus_server) -> None:
    from curvewatch import RunTracker

    targets = tmp_path / "targets"
    targets.mkdir()
    prom = prometheus_server(extra_scrape_configs=[file_sd_job(DEFAULT_CONFIG, targets)])
    tracker = RunTracker("grace-exp", model_type="mine", root=tmp_path / "saved_models", serve=True)
    run_id = None
    with pytest.raises(RuntimeError, match="diverged"), tracker as run:
        run_id = run.handle.run_id
        host_port = run.url.removeprefix("http://").removesuffix("/metrics")
        (targets / "run.json").write_text(json.dumps([{"targets": [host_port]}]))
        for _ in range(5):
            run.log(train_loss=0.5, lr=0.01)
        wait_for(prom.url, f'curvewatch_run_state{{run_id="{run_id}", state="running"}} == 1', timeout=TIMEOUT_S)
        raise RuntimeError("diverged")
    # The tracker marked the run failed and its endpoint served that before it stopped.
    failed = wait_for(prom.url, f'last_over_time(curvewatch_run_state{{run_id="{run_id}", state="failed"}}[5m])',
                      timeout=TIMEOUT_S)
    assert failed[0]["value"][1] == "1"
    assert tracker.exporter.url is None


class _Diverged(RuntimeError):
    pass


def test_a_bundled_trainer_that_raises_is_scraped_failed_and_fires_run_failed(
    tmp_path: Path, prometheus_server
) -> None:
    # The bundled trainers' crash path (TrainingManager.train) with its endpoint serving: Prometheus must
    # scrape state failed before the endpoint stops, and the generated CurvewatchRunFailed must fire.
    from curvewatch.trainers import SeriesSpec, TrainConfig, TrainingManager, TrainRequest, main_job

    config = DEFAULT_CONFIG.with_overrides({"failed_for": "1s", "failed_window": "10m", "scrape_interval": "1s",
                                            "evaluation_interval": "1s"})
    bundle = tmp_path / "bundle"
    write_files(bundle, generate_files(config))
    targets = tmp_path / "targets"
    prom = prometheus_server(rule_files=sorted((bundle / "prometheus" / "rules").glob("*.yml")),
                             extra_scrape_configs=[file_sd_job(config, targets)])
    manager = TrainingManager(root=tmp_path / "saved_models", serve=True, quiet=True, sd_file=targets)
    request = TrainRequest("tcn", SeriesSpec("product", product="P001"),
                           TrainConfig(epochs=3, checkpoint_every=0, device="cpu"), lookback=14, horizon=3,
                           model_params={"channels": 8, "levels": 2}, builtin=dict(main_job.QUICK_DATA))
    run_id = "product_P001_all_tcn-v1"

    def diverge(epoch, fit) -> None:  # noqa: ANN001 - EpochResult, FitResult
        wait_for(prom.url, f'curvewatch_run_state{{run_id="{run_id}", state="running"}} == 1', timeout=TIMEOUT_S)
        raise _Diverged("loss diverged (simulated)")

    with pytest.raises(_Diverged):
        manager.train(request, on_epoch_end=[diverge])
    failed = wait_for(prom.url, f'last_over_time(curvewatch_run_state{{run_id="{run_id}", state="failed"}}[5m])',
                      timeout=TIMEOUT_S)
    assert failed[0]["value"][1] == "1"
    alert = f'ALERTS{{alertname="{ALERT_PREFIX}RunFailed", alertstate="firing", run_id="{run_id}"}}'
    assert wait_for(prom.url, alert, timeout=TIMEOUT_S)[0]["metric"]["severity"] == config.severity_critical
    assert [r.status for r in manager.archive.list()] == ["failed"]
    manager.archive.close()


def test_a_killed_run_pages_through_alertmanager_and_a_failing_run_is_scraped_failed_and_counted(
        tmp_path: Path, prometheus_server, alertmanager_server, trainers, webhook) -> None:
    url, received = webhook
    config = DEFAULT_CONFIG.with_overrides({
        "vanished_for": "1s", "vanished_window": "10m", "failed_for": "1s", "failed_window": "10m",
        # Long enough for Prometheus to drop a removed target (file_sd, then its 5 s update throttle) before
        # a failed scrape of an endpoint that stopped right after counts; the killed run's stays down.
        "target_down_for": "20s", "group_wait": "1s",
        "group_interval": "1s", "repeat_interval": "1h", "webhook_url": url, "scrape_interval": "1s",
        "evaluation_interval": "1s", "dashboard_refresh": "5s"})
    bundle = tmp_path / "bundle"
    write_files(bundle, generate_files(config))
    manager = alertmanager_server(config_yaml=(bundle / ALERTMANAGER_FILE).read_text())
    killed = trainers("e2e-killed", "healthy", "user")
    crashing = trainers("e2e-crash", "raise", "user")
    trainers("e2e-done", "finish", "user")
    prom = prometheus_server(rule_files=sorted((bundle / "prometheus" / "rules").glob("*.yml")),
                             alertmanager_url=manager.url, extra_scrape_configs=[file_sd_job(config, trainers.targets)])
    wait_for(prom.url, 'curvewatch_run_state{run_id="e2e-killed", state="running"} == 1', timeout=TIMEOUT_S)
    killed.kill()  # SIGKILL: no final state, the target file stays
    name = f"{ALERT_PREFIX}RunVanished"
    try:
        poll(lambda: fired(received, name, "e2e-killed"), 90, f"{name} of e2e-killed at the webhook")
    except AssertionError as exc:
        raise AssertionError(f"{exc} Received: {received}; firing: {query(prom.url, 'ALERTS')}; "
                             f"Alertmanager log: {manager.log_tail()}") from None
    alert = fired(received, name, "e2e-killed")
    assert alert["labels"]["severity"] == config.severity_critical and alert["labels"]["rank"] == "0"
    assert alert["annotations"]["runbook_url"].startswith("http://")
    # The crashing run raised inside watch(): scraped as failed, then its endpoint and target file went.
    assert crashing.wait(timeout=FINAL_GRACE_S + 30) == 1
    assert b"CUDA out of memory (simulated)" in crashing.stderr.read()
    assert wait_for(prom.url, 'last_over_time(curvewatch_run_state{run_id="e2e-crash", state="failed"}[10m]) == 1',
                    timeout=TIMEOUT_S)
    assert wait_for(prom.url, 'last_over_time(curvewatch_run_state{run_id="e2e-done", state="finished"}[10m]) == 1',
                    timeout=TIMEOUT_S)
    assert not (trainers.targets / "e2e-crash.json").exists() and not list(trainers.targets.glob("*e2e-crash*"))
    failed_alert = f"{ALERT_PREFIX}RunFailed"
    poll(lambda: fired(received, failed_alert, "e2e-crash"), 60, f"{failed_alert} of e2e-crash at the webhook")
    values = {"job": [config.trainer_job], **{k: [".*"] for k in (*FILTER_LABELS, "rank")}}
    (runs_failed,) = [e for where, e in dashboard_expressions(config, values)
                      if where == "curvewatch-overview / Runs failed / A"]
    counted = wait_for(prom.url, runs_failed, lambda r: bool(r) and r[0]["value"][1] == "2", timeout=TIMEOUT_S)
    assert counted[0]["value"][1] == "2"  # e2e-crash (failed) and e2e-killed (vanished); not e2e-done
    down = wait_for(prom.url, f'ALERTS{{alertname="{ALERT_PREFIX}TargetDown", alertstate="firing"}}', timeout=TIMEOUT_S)
    assert {a["metric"]["run_id"] for a in down} == {"e2e-killed"}
    vanished = query(prom.url, f'count_over_time(ALERTS{{alertname="{name}"}}[1h])')
    assert {a["metric"]["run_id"] for a in vanished} == {"e2e-killed"}
    failed_runs = query(prom.url, f'count_over_time(ALERTS{{alertname="{failed_alert}"}}[1h])')
    assert {a["metric"]["run_id"] for a in failed_runs} == {"e2e-crash"}  # not the killed or the finished run


def test_watch_with_a_pushgateway_pushes_the_final_state_instead_of_waiting(tmp_path: Path,
                                                                             pushgateway_server) -> None:
    import requests
    from curvewatch.prom import watch

    gateway = pushgateway_server()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"), watch("pushed-final", port=0, pushgateway=gateway.url,
                                                          sd_file=tmp_path / "targets", final_grace=30.0,
                                                          rank=0) as (rec, exporter):
        rec.log(1, loss=1.0)
        assert exporter.target_file.exists()
        assert _scrape(exporter.port, "127.0.0.2") == 200  # a scraper: a grace would wait for it
        raise RuntimeError("boom")
    assert time.monotonic() - started < 10.0
    assert not list((tmp_path / "targets").glob("*.json"))
    text = requests.get(f"{gateway.url}/metrics", timeout=5).text
    states = [line for line in text.splitlines() if line.startswith("curvewatch_run_state{")
              and 'run_id="pushed-final"' in line]
    assert [line.rsplit(" ", 1)[1] for line in states if 'state="failed"' in line] == ["1"], states
