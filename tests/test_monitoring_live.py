"""Real components: a real Prometheus scrapes real training processes found through file discovery.

- Generated with a non-default job name, example labels, metric names and windows, every PromQL
  expression of every dashboard panel, annotation and variable (variables substituted, repeated panels
  once per chart or metric) and of every recording rule returns data for a run that logs a user's own
  metric names (not the sales ones); every alert expression is valid and its selectors return data;
  the rule tests of that config pass in promtool. (Alert windows, up to hours, cannot elapse here: that
  a healthy run raises nothing is checked in the end-to-end test with short windows.)
- A run pushed to a real Pushgateway is scraped by the generated honor_labels job and matched by
  the same selectors and recording rules as a scraped run.
- End to end: a run that goes NaN, a run that hangs and a run whose loss spikes and stays up (its weights
  knocked off: ``CurvewatchLossSpikeUnrecovered``) make the right alerts fire in Prometheus and
  reach a webhook served by the test through a real Alertmanager (rules generated with short windows
  and ``for:`` through a config override), while a healthy run beside them, observed until every
  alert's windows and ``for:`` have elapsed for it, raises no alert, not even a pending one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from curvewatch.monitoring import (
    ALERT_PREFIX,
    DEFAULT_CONFIG,
    MonitoringConfig,
    Queries,
    alerts,
    duration_seconds,
    generate_files,
    write_files,
)
from curvewatch.monitoring._variables import FILTER_LABELS
from curvewatch.monitoring.prometheus_files import ALERTMANAGER_FILE, prometheus_config
from curvewatch.monitoring.rule_tests import RULE_TESTS_FILE
from curvewatch.monitoring.signal_alerts import SPIKE_ANNOTATION
from fixtures.monitoring import dashboard_expressions, file_sd_job, fired
from fixtures.prometheus import ServerProcess, poll, query, wait_for
from monitoring_trainer import USER_BEST, USER_CHARTS, USER_RUN_INFO

REPO = Path(__file__).resolve().parents[1]
DATA_TIMEOUT_S = 40.0
_SELECTOR = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\}")
# Everything a user might change: the job, extra target labels, the metric names the overfitting alert
# reads, every window (short enough to hold data within the test).
CUSTOM = {"trainer_job": "team-train", "example_target_labels": "site=lab-7", "val_metric": "val_ce",
          "train_metric": "batch_ce", "loss_chart": "objective", "rate_window": "2m", "baseline_window": "2h",
          "trend_window": "10m", "vanished_window": "10m", "nonfinite_count_window": "2m", "nonfinite_window": "3m",
          "scrape_interval": "1s", "evaluation_interval": "1s", "dashboard_refresh": "5s", "spike_metrics": ".*_ce"}
# Queries that rightly return nothing for a healthy run: its firing alerts.
_EMPTY_WHEN_HEALTHY = ("annotation curvewatch alerts", f"annotation {SPIKE_ANNOTATION}")
_BEST_OF_CHART = "curvewatch-run-detail / $chart / D"


def test_every_dashboard_and_recording_rule_expression_returns_data_for_a_user_run_under_a_custom_job(
        tmp_path: Path, prometheus_server, trainers) -> None:
    config = DEFAULT_CONFIG.with_overrides(CUSTOM)
    bundle = tmp_path / "bundle"
    write_files(bundle, generate_files(config))
    rule_tests = subprocess.run(["promtool", "test", "rules", str(bundle / RULE_TESTS_FILE)], capture_output=True,
                                text=True, timeout=120)
    assert rule_tests.returncode == 0, rule_tests.stdout + rule_tests.stderr
    run_id = "user-healthy"
    trainers(run_id, "healthy", "user")
    prom = prometheus_server(rule_files=sorted((bundle / "prometheus" / "rules").glob("*.yml")),
                             extra_scrape_configs=[file_sd_job(config, trainers.targets)])
    q = Queries(config)
    wait_for(prom.url, f'{q.over_best}{{run_id="{run_id}"}}', timeout=DATA_TIMEOUT_S)
    values = {"job": [config.trainer_job], "run_id": [run_id], "run_ids": [run_id], "__rate_interval": ["4s"],
              **{label: [".*"] for label in (*FILTER_LABELS, "rank")},
              "chart": list(USER_CHARTS), "metric": [m for lines in USER_CHARTS.values() for m in lines]}
    expressions = dashboard_expressions(config, values)
    expressions += [(f"recording rule {r.record}", r.expr) for r in q.recording_rules()
                    if r.record != q.vanished]  # a healthy run has not vanished
    assert len(expressions) > 60
    some_chart: dict[str, list] = {}
    for where, expr in expressions:
        if where.endswith(_EMPTY_WHEN_HEALTHY):
            assert query(prom.url, expr) == [], where
        elif where.startswith(_BEST_OF_CHART):  # only the chart holding the tracked metric has a best line
            some_chart.setdefault(where.split(" [")[0], []).append(query(prom.url, expr))
        else:
            assert wait_for(prom.url, expr, timeout=DATA_TIMEOUT_S), f"{where}: {expr!r} returned no data"
    assert some_chart and all(any(results) for results in some_chart.values()), some_chart
    best = query(prom.url, f'curvewatch_best_value{{run_id="{run_id}"}}')
    assert [(r["metric"]["metric"], r["metric"]["mode"]) for r in best] == [USER_BEST]
    info = query(prom.url, f'curvewatch_run_info{{run_id="{run_id}"}}')[0]["metric"]
    assert {k: info[k] for k in USER_RUN_INFO} == USER_RUN_INFO and info["job"] == "team-train"
    for alert in alerts(config):
        # Valid PromQL over real data; silence for a healthy run is checked with short windows below.
        assert isinstance(query(prom.url, alert.expr), list), alert.name
        for selector in _SELECTOR.findall(alert.expr):
            if 'mode="min"' in selector:  # the user run tracks a max-mode metric; divergence is for min-mode ones
                continue
            assert wait_for(prom.url, selector, timeout=DATA_TIMEOUT_S), f"{alert.name}: {selector} selects nothing"


def test_target_labels_name_the_run_on_up_but_not_on_scraped_series(prometheus_server, trainers) -> None:
    config = DEFAULT_CONFIG.with_overrides(CUSTOM)
    trainers("labelled", "healthy", "user")
    prom = prometheus_server(extra_scrape_configs=[file_sd_job(config, trainers.targets)])
    up = wait_for(prom.url, 'up{job="team-train", curvewatch_run_id="labelled", curvewatch_rank="0"} == 1',
                  timeout=DATA_TIMEOUT_S)
    assert up
    series = wait_for(prom.url, 'curvewatch_step{run_id="labelled"}', timeout=DATA_TIMEOUT_S)
    labels = series[0]["metric"]
    assert "curvewatch_run_id" not in labels and not any(k.startswith("exported_") for k in labels), labels


def test_a_pushed_run_is_selected_like_a_scraped_one(prometheus_server, pushgateway_server) -> None:
    from curvewatch.prom import Exporter, RunInfo
    from curvewatch.trainers.recording import make_recorder

    recorder = make_recorder(budget=100)
    for step in range(1, 21):
        recorder.log(step, train_loss=1.0 / step, lr=0.01)
    recorder.log(20, train_mse=0.06, val_loss=0.08)
    recorder.log(21, train_loss=0.05, val_loss=0.16)
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
    ratio = wait_for(prom.url, f'{q.over_best}{{run_id="pushed-run", metric="val_loss"}}', timeout=DATA_TIMEOUT_S)
    assert abs(float(ratio[0]["value"][1]) - 2.0) < 1e-9  # 0.16 against the best 0.08


# Short windows and for: so that every alert can fire within the test (the healthy run's check is not
# vacuous); the healthy trainer improves every 10 steps (0.5 s), far under no_improvement_steps. The
# throughput baseline is the run's peak rate, so its for: rides out a 2.5 s stall on a busy machine.
E2E_OVERRIDES = {
    "nonfinite_for": "1s", "stall_seconds": "3", "stall_for": "2s", "divergence_for": "1s",
    "trend_window": "10s", "overfitting_for": "1s", "no_improvement_steps": "60", "no_improvement_for": "1s",
    "rate_window": "5s", "baseline_window": "15s", "throughput_for": "3s", "target_down_for": "1s",
    "spike_for": "1s", "grad_explode_for": "1s",
    "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h", "vanished_for": "1s", "failed_for": "1s",
    "scrape_interval": "1s", "evaluation_interval": "1s", "dashboard_refresh": "5s",
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
    needed = _observed_long_enough_s(config)
    assert needed <= 45, f"{needed:.0f}s of scrapes needed: shorten the new alert's window or for: in E2E_OVERRIDES"
    wait_for(prom_url, scraped, lambda r: bool(r) and float(r[0]["value"][1]) >= needed, timeout=60)
    for alert in alerts(config):  # its inputs exist for the healthy run: the rule was really evaluated
        for selector in _SELECTOR.findall(alert.expr):
            if not selector.startswith("up{"):
                run_selector = selector[:-1] + f', run_id="{run_id}"}}'
                assert wait_for(prom_url, run_selector), f"{alert.name}: {run_selector} selects nothing"
    ever = query(prom_url, f'count_over_time(ALERTS{{run_id="{run_id}"}}[1h])')
    assert ever == [], f"the healthy run raised (pending or firing) {[a['metric'] for a in ever]}"
    assert not [a for a in received if a["labels"].get("run_id") == run_id], "the healthy run reached the webhook"


def test_nan_stalled_and_spiked_runs_reach_the_webhook_and_a_healthy_run_raises_nothing(
        tmp_path: Path, prometheus_server, alertmanager_server, trainers, webhook) -> None:
    url, received = webhook
    config = DEFAULT_CONFIG.with_overrides({**E2E_OVERRIDES, "webhook_url": url})
    bundle = tmp_path / "bundle"
    write_files(bundle, generate_files(config))
    manager: ServerProcess = alertmanager_server(config_yaml=(bundle / ALERTMANAGER_FILE).read_text())
    for run_id, mode in (("e2e-nan", "nan"), ("e2e-stall", "stall"), ("e2e-spike", "spike"), ("e2e-ok", "healthy")):
        trainers(run_id, mode)
    prom = prometheus_server(rule_files=sorted((bundle / "prometheus" / "rules").glob("*.yml")),
                             alertmanager_url=manager.url, extra_scrape_configs=[file_sd_job(config, trainers.targets)])
    expected = {f"{ALERT_PREFIX}NonFiniteValues": "e2e-nan", f"{ALERT_PREFIX}TrainingStalled": "e2e-stall",
                f"{ALERT_PREFIX}LossSpikeUnrecovered": "e2e-spike"}
    try:
        poll(lambda: all(fired(received, name, run) for name, run in expected.items()), 90,
             f"{', '.join(expected)} at the webhook")
    except AssertionError as exc:
        firing = query(prom.url, 'ALERTS{alertstate="firing"}')
        raise AssertionError(f"{exc} Received: {received}; firing in Prometheus: {firing}; "
                             f"Alertmanager log: {manager.log_tail()}") from None
    by_name = {a.name: a for a in alerts(config)}
    for name, run_id in expected.items():
        alert = fired(received, name, run_id)
        assert alert["labels"]["severity"] == by_name[name].severity
        assert alert["labels"]["job"] == config.trainer_job and alert["labels"]["rank"] == "0"
        assert alert["annotations"]["summary"] == by_name[name].summary
        assert alert["annotations"]["runbook_url"] == by_name[name].runbook_url(config)
        assert f"un {run_id} (rank 0)" in alert["annotations"]["description"]
    values = {"job": [config.trainer_job], "run_id": ["e2e-spike"], **{label: [".*"] for label in FILTER_LABELS}}
    marker = next(expr for where, expr in dashboard_expressions(config, values)
                  if where == f"curvewatch-run-detail / annotation {SPIKE_ANNOTATION}")
    spike_marks = query(prom.url, f"max_over_time(({marker})[5m:1s])")  # at any time since the spike
    assert {r["metric"]["metric"] for r in spike_marks} == {"train_loss"}  # the run dashboard's spike marker
    nan_alert = f"{ALERT_PREFIX}NonFiniteValues"
    nan_lines = {a["labels"]["metric"] for a in received if a["labels"]["alertname"] == nan_alert}
    assert config.batch_loss_metric in nan_lines  # the per-step loss goes non-finite first
    _assert_healthy_run_raised_nothing(prom.url, config, "e2e-ok", received)
