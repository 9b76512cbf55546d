"""Real parts: two services scraped by a real Prometheus with the generated rules (short ``for:`` windows).

The healthy version is asked for forecasts across its own data and gets the real next-day sales; the
injected one gets the same days with its sales inputs scaled by 2.5 (drift) and answers far too high
(degradation). CurvewatchModelDegraded and CurvewatchFeatureDrift fire for the injected version and
nothing, not even a pending alert, for the healthy one, whose same series were evaluated all along; every
query of the "served versions" dashboard returns data; the served-version promtool cases pass.
"""

from __future__ import annotations

import subprocess

from curvewatch.monitoring import DEFAULT_CONFIG, generate_files, write_files
from curvewatch.monitoring.serving_alerts import serving_alerts
from curvewatch.monitoring.serving_dashboard import SERVING_VARIABLES, served_versions
from curvewatch.monitoring.serving_rule_tests import SERVING_RULE_TESTS_FILE
from fixtures.prometheus import query, wait_for
from fixtures.serving import serving_service, trained_versions  # noqa: F401 - fixtures

OVERRIDES = {"degraded_for": "3s", "drift_for": "3s", "latency_for": "3s", "scrape_interval": "1s",
             "evaluation_interval": "1s", "dashboard_refresh": "5s", "serving_selector": 'job="curvewatch-serving"'}
HEALTHY, INJECTED = "product_P001_all_tcn", "product_P001_all_kan"
DRIFT = 2.5


def _series(version_path):
    from curvewatch.trainers.data import SeriesSpec, feature_matrix, select_series
    from curvewatch.trainers.predict import load_version_model, training_data

    meta = load_version_model(version_path)[1]
    series = select_series(training_data(meta["data_source"]), SeriesSpec(**meta["series"]))
    return feature_matrix(series)[0], series.dates


def _drive(served, matrix, dates, days, *, factor: float) -> None:
    for day in days:
        rows = matrix[day - 28:day]
        body = {"id": f"d{day}", "until": str(dates[day - 1])} if factor == 1 else {"id": f"d{day}", "history": {
            "last_date": str(dates[day - 1]), "sales": list(rows[:, 0] * factor), "holiday": list(rows[:, 1]),
            "promotion": list(rows[:, 2])}}
        assert served.post("/predict", body)[0] == 200
    answer = served.post("/actuals", {"actuals": [{"id": f"d{d}", "value": float(matrix[d, 0])} for d in days]})[1]
    assert answer == {"matched": len(days), "unmatched": 0}


def test_degradation_and_drift_fire_for_the_injected_version_and_nothing_for_the_healthy_one(
        tmp_path, prometheus_server, trained_versions, serving_service) -> None:  # noqa: F811
    config = DEFAULT_CONFIG.with_overrides(OVERRIDES)
    bundle = tmp_path / "bundle"
    write_files(bundle, generate_files(config))
    promtool = subprocess.run(["promtool", "test", "rules", str(bundle / SERVING_RULE_TESTS_FILE)],
                              capture_output=True, text=True, timeout=120)
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    healthy = serving_service([(trained_versions["tcn"], "primary", 0.0)])
    injected = serving_service([(trained_versions["kan"], "primary", 0.0)])
    prom = prometheus_server([f"127.0.0.1:{healthy.port}", f"127.0.0.1:{injected.port}"], job_name="curvewatch-serving",
                             rule_files=sorted((bundle / "prometheus" / "rules").glob("*.yml")))
    matrix, dates = _series(trained_versions["tcn"])
    days = list(range(28, 280, 6))  # across the training year: the healthy inputs look like the training data
    _drive(healthy, matrix, dates, days, factor=1.0)
    _drive(injected, matrix, dates, days, factor=DRIFT)
    for alert in ("CurvewatchModelDegraded", "CurvewatchFeatureDrift"):
        firing = wait_for(prom.url, f'ALERTS{{alertstate="firing", alertname="{alert}", identifier="{INJECTED}"}}',
                          timeout=60)
        assert firing[0]["metric"]["role"] == "primary" and firing[0]["metric"]["severity"] == "warning"
    assert wait_for(prom.url, f'ALERTS{{alertname="CurvewatchFeatureDrift", identifier="{INJECTED}", feature="sales"}}')
    for name in ("degradation_ratio", "window_matched", "feature_psi", "drift_window_rows"):  # evaluated for it too
        assert wait_for(prom.url, f'curvewatch_serving_{name}{{identifier="{HEALTHY}"}}'), name
    ever = query(prom.url, f'count_over_time(ALERTS{{identifier="{HEALTHY}"}}[1h])')
    assert ever == [], f"the healthy version raised {[a['metric'] for a in ever]}"
    names = {a.name for a in serving_alerts(config)}
    assert {r["metric"]["alertname"] for r in query(prom.url, "ALERTS")} <= names
    board = served_versions(config)
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "10s")
            for variable in SERVING_VARIABLES:
                expr = expr.replace(f"${variable}", ".*")
            assert wait_for(prom.url, expr, timeout=20), (panel["title"], target["refId"], expr)


def test_serve_model_registers_with_the_generated_serving_job(
        tmp_path, prometheus_server, trained_versions, serving_service) -> None:  # noqa: F811
    """``--targets-dir`` writes a file_sd target that the generated ``curvewatch-serving`` job reads: a real
    Prometheus scrapes the service under that job, and the file is gone once the service stops."""
    from curvewatch.monitoring.prometheus_files import prometheus_config

    targets = tmp_path / "serving-targets"
    served = serving_service([(trained_versions["tcn"], "primary", 0.0)], subprocess=True,
                             args=("--targets-dir", str(targets)))
    (target,) = targets.glob("*.json")
    assert target.name == f"{HEALTHY}-v1-{served.port}.json"
    job = next(j for j in prometheus_config(DEFAULT_CONFIG)["scrape_configs"]
               if j["job_name"] == DEFAULT_CONFIG.serving_job)
    assert job["file_sd_configs"][0]["files"] == ["serving-targets/*.json"]
    job = {**job, "file_sd_configs": [{"files": [str(targets / "*.json")], "refresh_interval": "1s"}]}
    prom = prometheus_server(extra_scrape_configs=[job])
    assert served.post("/predict", {"id": "r1", "until": "2023-10-01"})[0] == 200
    up = wait_for(prom.url, f'up{{job="{DEFAULT_CONFIG.serving_job}"}} == 1', timeout=60)
    assert up[0]["metric"]["instance"] == f"127.0.0.1:{served.port}"
    wait_for(prom.url, f'curvewatch_serving_predictions_total{{job="{DEFAULT_CONFIG.serving_job}", '
                       f'identifier="{HEALTHY}"}} >= 1', timeout=60)
    served.process.terminate()
    served.process.wait(timeout=10)
    assert not list(targets.glob("*.json"))
