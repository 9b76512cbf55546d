"""A central view over several clusters: remote_write into one Prometheus, and federation as the alternative.

Two cluster Prometheus servers (A1 ``cluster="gpu-a"``, A2 ``cluster="gpu-b"``: their ``external_labels``)
each scrape one training process. Remote write: A1 and A2 evaluate the generated rules themselves (as a
cluster Prometheus does) and ``remote_write`` raw and recorded series to B, a Prometheus started with
``--web.enable-remote-write-receiver`` (any remote-write receiver: Mimir, Thanos Receive, VictoriaMetrics);
federation: C scrapes A1's and A2's ``/federate`` and evaluates the rules itself, generated with ``cluster``
among the run labels (``--set run_labels=cluster,job,instance,run_id,rank``) so they aggregate by it.
Either way every recording rule and every dashboard query answers from the central server, and every
series there carries its cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from curvewatch import CurveRecorder
from curvewatch.monitoring import DEFAULT_CONFIG, alerts, dashboards
from curvewatch.monitoring.prometheus_files import alerting_rules, recording_rules
from curvewatch.monitoring.promql import Queries
from curvewatch.prom import Exporter, RunInfo
from fixtures.prometheus import ServerProcess, _start, prometheus_config, query, wait_for

REPO = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((REPO / "prometheus" / "rules").glob("*.yml"))
CLUSTERS = {"gpu-a": "central-a", "gpu-b": "central-b"}  # cluster -> the run it trains
JOB = f'job="{DEFAULT_CONFIG.trainer_job}"'  # the trainers' series
CENTRAL_CONFIG = DEFAULT_CONFIG.with_overrides({"run_labels": "cluster,job,instance,run_id,rank"})
DATA_TIMEOUT_S = 60.0


class _Training(threading.Thread):
    """A training loop logging the trainer metrics of docs/ARCHITECTURE.md every few milliseconds."""

    def __init__(self, recorder: CurveRecorder):
        super().__init__(daemon=True)
        self.recorder, self.stop = recorder, threading.Event()

    def run(self) -> None:
        step = 0
        while not self.stop.wait(0.01):
            step += 1
            self.recorder.log(step, train_loss=1.0 / step, lr=0.01)
            if step % 20 == 0:
                self.recorder.set_epoch(step // 20)
                self.recorder.log(step, train_mse=1.0 / step, val_loss=1.2 / step, val_rmse=0.1, val_mae=0.1,
                                  val_mape=5.0, val_r2=0.9)


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, str]]:
    """cluster -> scrape target of a training process logging in a thread."""
    started, targets = [], {}
    for cluster, run_id in CLUSTERS.items():
        recorder = CurveRecorder(budget=200)
        recorder.chart("loss", ["train_loss", "train_mse", "val_loss"], yscale="log")
        recorder.chart("errors", ["val_rmse", "val_mae"])
        recorder.chart("mape", ["val_mape"])
        recorder.chart("r2", ["val_r2"])
        recorder.chart("lr", ["lr"])
        recorder.track_best("val_loss", mode="min")
        exporter = Exporter(recorder, run=RunInfo(run_id=run_id, model_type="linear", rank=0))
        exporter.start(port=0)
        training = _Training(recorder)
        training.start()
        started.append((exporter, training))
        targets[cluster] = f"127.0.0.1:{exporter.port}"
    yield targets
    for exporter, training in started:
        training.stop.set()
        training.join(timeout=10)
        exporter.stop()


def _prometheus(workdir: Path, config: dict, *flags: str) -> ServerProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    argv = ["prometheus", f"--config.file={path}", f"--storage.tsdb.path={workdir / 'data'}", *flags]
    return _start("prometheus", argv, workdir, path)


def _rules_file(workdir: Path, config) -> Path:
    path = workdir / "central.rules.yml"
    groups = recording_rules(config)["groups"] + alerting_rules(config)["groups"]
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, runs) -> Iterator[dict[str, ServerProcess]]:
    """B (remote-write receiver), A1/A2 (cluster servers writing to B), C (federating A1 and A2)."""
    tmp = tmp_path_factory.mktemp("central")
    started: dict[str, ServerProcess] = {}
    try:
        started["B"] = _prometheus(tmp / "B", prometheus_config(), "--web.enable-remote-write-receiver")
        for cluster, target in runs.items():
            config = prometheus_config([target], rule_files=RULE_FILES)
            config["global"]["external_labels"] = {"cluster": cluster}
            config["remote_write"] = [{"url": f"{started['B'].url}/api/v1/write",
                                       "queue_config": {"batch_send_deadline": "1s"}}]
            started[cluster] = _prometheus(tmp / cluster, config)
        federate = {
            "job_name": "federate",
            "honor_labels": True,  # keep the cluster servers' job, instance and cluster labels
            "metrics_path": "/federate",
            "params": {"match[]": [f"{{{JOB}}}"]},
            "static_configs": [{"targets": [started[c].url.removeprefix("http://") for c in CLUSTERS]}],
        }
        config = prometheus_config(rule_files=[_rules_file(tmp, CENTRAL_CONFIG)], extra_scrape_configs=[federate])
        started["C"] = _prometheus(tmp / "C", config)
        yield started
    finally:
        for server in started.values():
            server.stop()


# Values Grafana would substitute: the run under test, a line of it for repeated panels, ".*" for "All".
_EXAMPLE_VALUES = {"run_id": None, "run_ids": None, "chart": "loss", "metric": "val_loss"}
_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


def _variables(board: dict, run_id: str) -> dict[str, str]:
    values = dict(_BUILTINS)
    for variable in board.get("templating", {}).get("list", []):
        name, current = variable["name"], (variable.get("current") or {}).get("value")
        if name in _EXAMPLE_VALUES:
            values[name] = _EXAMPLE_VALUES[name] or run_id
        elif current in (None, "", "$__all") or isinstance(current, list):
            values[name] = ".*"
        else:
            values[name] = str(current)
    values.setdefault("run_id", run_id)
    values.setdefault("run_ids", run_id)
    return values


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # panels inside collapsed rows


def _dashboard_expressions(run_id: str) -> list[tuple[str, str]]:
    """``(where, expr)`` of every panel query of every dashboard, variables substituted as Grafana would."""
    found = []
    for uid, board in dashboards(DEFAULT_CONFIG).items():
        values = sorted(_variables(board, run_id).items(), key=lambda kv: -len(kv[0]))
        for panel in _panels(board["panels"]):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                for name, value in values:
                    expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
                if expr:
                    found.append((f"{uid} / {panel.get('title')} / {target.get('refId')}", expr))
    return found


@pytest.mark.parametrize("central", ["B", "C"], ids=["remote_write", "federation"])
def test_every_series_reaches_the_central_server_with_its_cluster_label(servers, central: str) -> None:
    url = servers[central].url
    for cluster, run_id in CLUSTERS.items():
        series = wait_for(url, f'curvewatch_step{{run_id="{run_id}"}}', timeout=DATA_TIMEOUT_S)
        assert [s["metric"]["cluster"] for s in series] == [cluster]
    assert query(url, f'count({{{JOB}, cluster=""}})') == []  # none without a cluster


@pytest.mark.parametrize("central", ["B", "C"], ids=["remote_write", "federation"])
def test_every_recording_rule_answers_from_the_central_server_per_cluster(servers, central: str) -> None:
    url = servers[central].url
    for cluster in CLUSTERS:  # the cluster servers evaluate the rules too: a rule answers there first
        wait_for(servers[cluster].url, Queries(DEFAULT_CONFIG).steps_per_second, timeout=DATA_TIMEOUT_S)
    answered = 0
    for rule in Queries(CENTRAL_CONFIG).recording_rules():
        edge = {c for c, run_id in CLUSTERS.items() if query(servers[c].url, f'{rule.record}{{run_id="{run_id}"}}')}
        for cluster in edge:  # some rules record only a condition (a vanished run): empty at the edge, empty here
            result = wait_for(url, f'{rule.record}{{cluster="{cluster}", run_id="{CLUSTERS[cluster]}"}}',
                              timeout=DATA_TIMEOUT_S)
            assert result, rule.record
        answered += len(edge)
    assert answered >= 2 * (len(Queries(CENTRAL_CONFIG).recording_rules()) - 1)
    for alert in alerts(CENTRAL_CONFIG):  # valid over the central data (a healthy run raises none)
        assert isinstance(query(url, alert.expr), list), alert.name


@pytest.mark.parametrize("central", ["B", "C"], ids=["remote_write", "federation"])
def test_every_dashboard_query_answers_from_the_central_server(servers, central: str) -> None:
    url = servers[central].url
    for cluster, run_id in CLUSTERS.items():
        wait_for(url, f'{Queries(DEFAULT_CONFIG).steps_per_second}{{cluster="{cluster}"}}', timeout=DATA_TIMEOUT_S)
        expressions = _dashboard_expressions(run_id)
        assert len(expressions) > 20
        for where, expr in expressions:
            assert wait_for(url, expr, timeout=DATA_TIMEOUT_S), f"{where}: {expr!r} returned no data"
        clustered = query(url, f'curvewatch_value{{run_id="{run_id}", metric="val_loss"}}')
        assert {s["metric"]["cluster"] for s in clustered} == {cluster}
