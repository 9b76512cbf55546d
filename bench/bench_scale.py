"""Sizing of one Prometheus for many trainers (run by hand: ``.venv/bin/python bench/bench_scale.py``).

1. Series per run, per rank and per tag, counted in the exposition of one endpoint (``generate_latest``)
   for 1 and 8 lines and 0 and 1 tracked best metrics: the fixed part, the cost of a line and of a best.
2. For each N in ``--endpoints`` (default 50 and 200): N trainer endpoints on 127.0.0.1 (one process, each
   its own HTTP server, the trainer's 8 lines and ``val_loss`` best, logging 5 steps/s) scraped by one real
   Prometheus with the generated rules, at the generated ``scrape_interval``/``evaluation_interval``, for
   ``--seconds``. Prometheus scrapes itself; read from it: head series, samples/s appended, scrape duration,
   rule group durations, CPU and RSS, and the instant-query time of every Overview dashboard query.
3. ``curvewatch sd-server``: the time to answer ``GET /targets`` with 200 and 10,000 live registrations
   (SQLite registry); and N=200 again with every endpoint registered (``registry_url``, heartbeats every
   10 s) and found by Prometheus through the sd-server (``http_sd_configs``) instead of static targets.

Writes ``bench/results/scale.json`` and prints a table; docs/SCALING.md quotes it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml
from curvewatch import CurveRecorder
from curvewatch.archive.registrations import heartbeat
from curvewatch.archive.registry import Registry
from curvewatch.discovery import SDServer
from curvewatch.monitoring import DEFAULT_CONFIG, dashboards
from curvewatch.prom import Exporter, RunInfo
from loopback import free_port, poll
from prometheus_client import generate_latest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "scale.json"
LINES = {"loss": ["train_loss", "train_mse", "val_loss"], "errors": ["val_rmse", "val_mae"],
         "mape": ["val_mape"], "r2": ["val_r2"], "lr": ["lr"]}  # the trainer's charts (docs/ARCHITECTURE.md)
STEPS_PER_S = 5.0
READY_TIMEOUT_S = 60.0


def _recorder(lines: int = 8, best: int = 1) -> CurveRecorder:
    rec = CurveRecorder(budget=200)
    names = [m for ms in LINES.values() for m in ms][:lines]
    for chart, metrics in LINES.items():
        kept = [m for m in metrics if m in names]
        if kept:
            rec.chart(chart, kept)
    if best:
        rec.track_best("val_loss" if "val_loss" in names else names[0], mode="min")
    rec.set_epoch(1)
    for step in range(1, 11):
        rec.log(step, **{m: 1.0 / step for m in names})
    return rec


def _series(lines: int, best: int) -> int:
    exporter = Exporter(_recorder(lines, best), run=RunInfo(run_id="count", rank=0))
    text = generate_latest(exporter.registry).decode()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def series_counts() -> dict[str, float]:
    one, eight, eight_best = _series(1, 0), _series(8, 0), _series(8, 1)
    per_line = (eight - one) / 7
    return {"fixed": one - per_line, "per_line": per_line, "per_best": eight_best - eight,
            "trainer_endpoint": eight_best, "prometheus_per_target": 5}


class _Fleet:
    """N exporters in this process, logging in one thread; registered in ``registry_url`` when given."""

    def __init__(self, n: int, registry_url: str | None = None):
        self.recorders = [_recorder() for _ in range(n)]
        self.exporters = [Exporter(r, run=RunInfo(run_id=f"scale-{i:05d}", model_type="bench", rank=0))
                          for i, r in enumerate(self.recorders)]
        for exporter in self.exporters:
            exporter.start(port=0, registry_url=registry_url)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._log, daemon=True)
        self.thread.start()

    def _log(self) -> None:
        step = 10
        while not self.stop.wait(1.0 / STEPS_PER_S):
            step += 1
            for rec in self.recorders:
                rec.log(step, train_loss=1.0 / step, lr=0.01)
                if step % 10 == 0:
                    rec.log(step, train_mse=1.0 / step, val_loss=1.1 / step, val_rmse=0.1, val_mae=0.1,
                            val_mape=5.0, val_r2=0.9)

    def targets(self) -> list[str]:
        return [f"127.0.0.1:{e.port}" for e in self.exporters]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        for exporter in self.exporters:
            exporter.stop()


def _query(url: str, promql: str) -> list[dict]:
    body = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=30).json()
    if body.get("status") != "success":
        raise RuntimeError(f"{promql}: {body}")
    return body["data"]["result"]


def _scalar(url: str, promql: str) -> float:
    result = _query(url, promql)
    return float(result[0]["value"][1]) if result else math.nan


def _prometheus(workdir: Path, targets: list[str] | str) -> tuple[subprocess.Popen, str]:
    """A Prometheus scraping ``targets`` (a list: static; a string: the URL of an HTTP SD endpoint)."""
    port = free_port()
    discovery = ({"http_sd_configs": [{"url": targets, "refresh_interval": "30s"}]} if isinstance(targets, str)
                 else {"static_configs": [{"targets": targets}]})
    config = {
        "global": {"scrape_interval": DEFAULT_CONFIG.scrape_interval,
                   "evaluation_interval": DEFAULT_CONFIG.evaluation_interval},
        "rule_files": [str(p) for p in sorted((REPO / "prometheus" / "rules").glob("*.yml"))],
        "scrape_configs": [
            {"job_name": DEFAULT_CONFIG.trainer_job, **discovery},
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    url = f"http://127.0.0.1:{port}"
    poll(lambda: requests.get(f"{url}/-/ready", timeout=2).status_code == 200, READY_TIMEOUT_S,
         lambda: RuntimeError(f"Prometheus did not start: {(workdir / 'prometheus.log').read_text()[-2000:]}"),
         dead=lambda: process.poll() is not None)
    return process, url


def _query_seconds(url: str, promql: str, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _query(url, promql)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_prometheus(n: int, seconds: float, discovery: str = "static") -> dict[str, float]:
    """``discovery``: "static" targets, or "http": every endpoint registers in a SQLite registry and
    Prometheus finds them through an in-process ``SDServer``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"curvewatch-scale-{n}-"))
    sd_server = None
    if discovery == "http":
        sd_server = SDServer(f"sqlite:///{workdir / 'registry.sqlite3'}", port=0)
        sd_server.start()
    fleet = _Fleet(n, sd_server.registry.url if sd_server else None)
    process, url = _prometheus(workdir, sd_server.url if sd_server else fleet.targets())
    try:
        time.sleep(seconds)  # the measurement window itself: Prometheus scrapes and evaluates meanwhile
        job = f'job="{DEFAULT_CONFIG.trainer_job}"'
        window = f"[{int(seconds * 0.6)}s]"  # means over the window's later part (Prometheus scrapes itself)
        groups = {r["metric"]["rule_group"].rsplit(";", 1)[-1]: float(r["value"][1])
                  for r in _query(url, f"avg_over_time(prometheus_rule_group_last_duration_seconds{window})")}
        overview = dashboards(DEFAULT_CONFIG)["curvewatch-overview"]
        exprs = [t["expr"] for p in overview["panels"] for t in p["targets"]]
        query_times = [_query_seconds(url, e) for e in exprs]
        return {
            "endpoints": n,
            "discovery": discovery,
            "seconds": seconds,
            "targets_up": _scalar(url, f"count(up{{{job}}} == 1)"),
            "head_series": _scalar(url, "prometheus_tsdb_head_series"),
            "trainer_series": _scalar(url, f'count({{__name__=~"curvewatch_.*", {job}}})'),
            "recorded_series": _scalar(url, 'count({__name__=~"curvewatch:.*"})'),
            "samples_per_scrape": _scalar(url, f"avg(scrape_samples_scraped{{{job}}})"),
            "samples_appended_per_s": _scalar(url, "rate(prometheus_tsdb_head_samples_appended_total[1m])"),
            "scrape_duration_avg_s": _scalar(url, f"avg(avg_over_time(scrape_duration_seconds{{{job}}}{window}))"),
            "scrape_duration_max_s": _scalar(url, f"max(max_over_time(scrape_duration_seconds{{{job}}}{window}))"),
            "rules_recording_s": groups.get("curvewatch.rules", math.nan),
            "rules_alerts_s": groups.get("curvewatch.alerts", math.nan),
            "prometheus_cpu_cores": _scalar(url, f'rate(process_cpu_seconds_total{{job="prometheus"}}{window})'),
            "prometheus_rss_bytes": _scalar(url, 'process_resident_memory_bytes{job="prometheus"}'),
            "overview_queries": len(exprs),
            "overview_query_median_s": statistics.median(query_times),
            "overview_query_max_s": max(query_times),
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        fleet.close()
        if sd_server is not None:
            sd_server.stop()
            sd_server.registry.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def bench_sd_server(counts: list[int]) -> dict[str, dict[str, float]]:
    out = {}
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            registry = Registry(f"sqlite:///{Path(tmp) / 'registry.sqlite3'}")
            with registry.engine.begin() as conn:
                for i in range(count):
                    heartbeat(conn, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:9108", run_id=f"r{i}", rank=0)
            server = SDServer(registry, port=0)
            server.start()
            try:
                session, times, size = requests.Session(), [], 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    size = len(session.get(server.url, timeout=60).content)
                    times.append(time.perf_counter() - t0)
            finally:
                server.stop()
                registry.dispose()
        out[str(count)] = {"median_s": statistics.median(times), "bytes": size}
    return out


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # run the finally blocks: stop Prometheus by PID
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=float, default=150.0, help="measurement window per N (default 150)")
    parser.add_argument("--sd-counts", type=int, nargs="+", default=[200, 10000])
    parser.add_argument("--http-sd", type=int, nargs="*", default=[200],
                        help="also run these N with every endpoint found through curvewatch's HTTP SD")
    args = parser.parse_args()
    results = {"series": series_counts(), "prometheus": [], "sd_server": bench_sd_server(args.sd_counts),
               "scrape_interval": DEFAULT_CONFIG.scrape_interval,
               "evaluation_interval": DEFAULT_CONFIG.evaluation_interval}
    print("series per endpoint:", json.dumps(results["series"]))
    print("sd-server GET /targets:", json.dumps(results["sd_server"]))
    runs = [(n, "static") for n in args.endpoints] + [(n, "http") for n in args.http_sd]
    for n, discovery in runs:
        row = bench_prometheus(n, args.seconds, discovery)
        results["prometheus"].append(row)
        print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
