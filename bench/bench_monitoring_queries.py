"""The Overview's costliest panel, before and after issue 14, on a real Prometheus 2.42 with backfilled data.

    .venv/bin/python bench/bench_monitoring_queries.py            # 100 runs x 5 lines, 6 h at 15 s (~1-2 min)
    .venv/bin/python bench/bench_monitoring_queries.py --runs 20  # smaller

Writes OpenMetrics for ``--runs`` runs (5 NaN counters each, one every 15 s over 6 h, and the recorded
``curvewatch:nonfinite:increase1h`` the generated rule would have written), turns it into TSDB blocks
with ``promtool tsdb create-blocks-from openmetrics``, starts Prometheus on them (127.0.0.1, free port,
stopped by PID) and times, side by side in one run:

- before: ``sum(increase(curvewatch_nonfinite_total[1h]))`` as the stat panel ran it, a range query over
  the dashboard's 6 h at a 15 s step;
- after: ``sum(curvewatch:nonfinite:increase1h ...)``, the instant query the panel runs now.

Prints the median wall time of ``--repeat`` queries and Prometheus' own ``totalQueryableSamples``
(``stats=all``), and writes them to ``bench/results/monitoring_queries.md``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from loopback import free_port, poll

LINES = 5
STEP_S = 15
HOURS = 6
RESULTS = Path(__file__).with_name("results") / "monitoring_queries.md"
BEFORE = 'sum(increase(curvewatch_nonfinite_total{job="curvewatch"}[1h]))'
# The panel's query as generated (run filters set to All).
AFTER = ('sum(curvewatch:nonfinite:increase1h\nand on (job, instance, run_id, rank) '
         'curvewatch_run_info{job=~"curvewatch", experiment=~".*", model_type=~".*", host=~".*", rank=~".*"})')


def _counter(run: int, line: int, i: int) -> int:
    """A NaN counter that jumps now and then (so increase() has work to do)."""
    return (i // (97 + run + line)) * (line + 1)


def write_openmetrics(path: Path, runs: int, end: int) -> None:
    points = HOURS * 3600 // STEP_S
    window = 3600 // STEP_S
    with path.open("w") as out:
        out.write("# TYPE curvewatch_nonfinite counter\n")
        for run in range(runs):
            for line in range(LINES):
                labels = f'job="curvewatch",instance="10.0.0.{run % 250}:9108",run_id="run-{run}",rank="0",' \
                         f'chart="loss",metric="m{line}"'
                for i in range(points):
                    out.write(f"curvewatch_nonfinite_total{{{labels}}} {_counter(run, line, i)} "
                              f"{end - (points - i) * STEP_S}\n")
        out.write("# TYPE curvewatch:nonfinite:increase1h gauge\n")
        for run in range(runs):
            labels = f'job="curvewatch",instance="10.0.0.{run % 250}:9108",run_id="run-{run}",rank="0"'
            for i in range(points):
                value = sum(_counter(run, line, i) - _counter(run, line, max(0, i - window)) for line in range(LINES))
                out.write(f"curvewatch:nonfinite:increase1h{{{labels}}} {value} {end - (points - i) * STEP_S}\n")
        out.write("# TYPE curvewatch_run info\n")
        for run in range(runs):
            labels = f'job="curvewatch",instance="10.0.0.{run % 250}:9108",run_id="run-{run}",rank="0",host="h"'
            for i in range(points):
                out.write(f"curvewatch_run_info{{{labels}}} 1 {end - (points - i) * STEP_S}\n")
        out.write("# EOF\n")


def _timed(url: str, path: str, params: dict, repeat: int) -> tuple[float, int]:
    times, samples = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = requests.get(f"{url}{path}", params={**params, "stats": "all"}, timeout=120)
        times.append(time.perf_counter() - start)
        response.raise_for_status()
        samples = int(response.json()["data"]["stats"]["samples"]["totalQueryableSamples"])
    return statistics.median(times), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    end = int(time.time()) // STEP_S * STEP_S - 300
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_openmetrics(work / "data.om", args.runs, end)
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(work / "data.om"),
                        str(work / "tsdb")], check=True, timeout=600)
        (work / "prometheus.yml").write_text("global: {}\n")
        port = free_port()
        process = subprocess.Popen(["prometheus", f"--config.file={work / 'prometheus.yml'}",
                                    f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                                    "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            poll(lambda: requests.get(f"{url}/-/ready", timeout=2).status_code == 200, 60,
                 lambda: RuntimeError("Prometheus did not become ready within 60 s."))
            before = _timed(url, "/api/v1/query_range", {"query": BEFORE, "start": end - HOURS * 3600, "end": end,
                                                          "step": STEP_S}, args.repeat)
            after = _timed(url, "/api/v1/query", {"query": AFTER, "time": end}, args.repeat)
        finally:
            process.terminate()
            process.wait(timeout=30)
    rows = [("before: range query, 6 h at 15 s", BEFORE, *before), ("after: instant, recorded", AFTER, *after)]
    table = [f"Overview 'Non-finite values (1h)', {args.runs} runs x {LINES} lines, {HOURS} h at {STEP_S} s "
             f"(median of {args.repeat})", "",
             "| query | PromQL | seconds | samples read |", "|---|---|---|---|"]
    table += [f"| {name} | `{' '.join(expr.split())}` | {secs:.4f} | {samples:,} |"
              for name, expr, secs, samples in rows]
    table.append(f"\nratio before/after: {before[0] / after[0]:.0f}x time, {before[1] / max(1, after[1]):.0f}x samples")
    text = "\n".join(table) + "\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
