"""Benchmark of the TensorBoard integration (run by hand: ``.venv/bin/python bench/bench_tensorboard.py``).

1. ``tail-tb`` following ``--runs`` runs x ``--tags`` tags while a writer (torch's SummaryWriter, in this
   process) appends one value per tag per run every ``--period`` seconds for ``--seconds``: the CPU share
   of the follower (a ``curvewatch tail-tb`` process, from /proc) and the delay from a flushed write to
   an HTTP scrape of the endpoint that shows it (each scrape reads what was appended before answering).
2. ``import-tb`` throughput (scalars per second) against TensorBoard's own ``EventAccumulator`` with
   ``size_guidance={"scalars": 0}`` (keep everything) on the same files, alternating rounds, as a ratio.
   Both read through TensorBoard's record loader (its pure-Python CRC check is most of either cost).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from loopback import free_port, poll

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def bench_tail(runs: int, tags: int, seconds: float, period: float) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        writers = [SummaryWriter(str(logdir / f"run-{r:03d}"), flush_secs=3600) for r in range(runs)]
        for w in writers:
            for t in range(tags):
                w.add_scalar(f"tag{t}", 0.0, 0)
            w.flush()
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", "from curvewatch.cli import main; raise SystemExit(main())",
                                 "tail-tb", str(logdir), "--port", str(port), "--rescan", "5"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/metrics"
        session = requests.Session()
        try:
            poll(lambda: session.get(url, timeout=5).text.count('metric="tag0"') >= runs, 60,
                 lambda: SystemExit("tail-tb did not expose every run within 60 s"))
            cpu0, wall0 = _cpu_seconds(proc.pid), time.monotonic()
            delays, scrape_bytes, step, written = [], [], 0, 0
            last_run = f"run-{runs - 1:03d}"
            probe = re.compile(r'curvewatch_value\{chart="tag0",metric="tag0",rank="0",run_id="' + last_run
                               + r'"\} (\S+)')
            while time.monotonic() - wall0 < seconds:
                tick = time.monotonic()
                step += 1
                for w in writers:
                    for t in range(tags):
                        w.add_scalar(f"tag{t}", step + t / 100, step)
                    w.flush()
                written += runs * tags
                flushed = time.monotonic()
                while True:  # the last run written: its newest value must be in the next scrape
                    body = session.get(url, timeout=10).text
                    match = probe.search(body)
                    if match and float(match.group(1)) == step:
                        break
                delays.append(time.monotonic() - flushed)
                scrape_bytes.append(len(body))
                time.sleep(max(0.0, period - (time.monotonic() - tick)))
            wall = time.monotonic() - wall0
            cpu = _cpu_seconds(proc.pid) - cpu0
            idle = []
            for _ in range(5):  # a scrape with nothing new to read: the exposition alone
                t0 = time.monotonic()
                session.get(url, timeout=10)
                idle.append(time.monotonic() - t0)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            for w in writers:
                w.close()
    delays.sort()
    print(f"\n## tail-tb: {runs} runs x {tags} tags, one value per tag every {period:g} s for {wall:.0f} s "
          f"({written} scalars, {written / wall:.0f}/s)")
    print(f"- follower CPU: {cpu:.2f} s in {wall:.1f} s = {100 * cpu / wall:.1f}% of one core "
          f"({1e6 * cpu / written:.0f} us per scalar, scrapes included)")
    print(f"- write -> scraped: median {1000 * statistics.median(delays):.0f} ms, "
          f"p95 {1000 * delays[int(0.95 * (len(delays) - 1))]:.0f} ms, max {1000 * delays[-1]:.0f} ms "
          f"({len(delays)} writes; scrape body {statistics.median(scrape_bytes) / 1024:.0f} KiB)")
    print(f"- a scrape with nothing new to read: median {1000 * statistics.median(idle):.0f} ms")


def _write_logdir(logdir: Path, runs: int, tags: int, steps: int) -> int:
    """Event files as SummaryWriter writes them (one scalar per event), through TensorBoard's RecordWriter."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    for r in range(runs):
        run = logdir / f"run-{r:03d}"
        run.mkdir(parents=True)
        with open(run / f"events.out.tfevents.{1700000000 + r}.bench.1.0", "wb") as f:
            writer = RecordWriter(f)
            writer.write(Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
            for step in range(steps):
                for t in range(tags):
                    value = 1.0 / (step + 1) + (50.0 if step % 997 == t else 0.0)
                    summary = Summary(value=[Summary.Value(tag=f"loss/t{t}", simple_value=value)])
                    writer.write(Event(wall_time=1.0 * step, step=step, summary=summary).SerializeToString())
    return runs * tags * steps


def bench_import(runs: int, tags: int, steps: int, rounds: int) -> None:
    from curvewatch.archive import ModelArchive
    from curvewatch.integrations.tensorboard import import_logdir, read_logdir, record_run
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        total = _write_logdir(logdir, runs, tags, steps)
        size = sum(p.stat().st_size for p in logdir.rglob("*tfevents*"))

        def ours(r: int) -> float:
            t0 = time.perf_counter()
            with ModelArchive(Path(tmp) / f"saved-{r}") as archive:
                results = import_logdir(logdir, archive)
            assert sum(x.scalars for x in results) == total
            return time.perf_counter() - t0

        def read_and_record(r: int) -> float:  # the same without the archive's files (PNG, manifest, registry)
            t0 = time.perf_counter()
            reads = read_logdir(logdir)
            for read in reads.values():
                record_run(read)
            assert sum(read.scalars.count for read in reads.values()) == total
            return time.perf_counter() - t0

        def theirs(r: int) -> float:
            t0 = time.perf_counter()
            count = 0
            for run in sorted(logdir.iterdir()):
                acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
                acc.Reload()
                count += sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
            assert count == total
            return time.perf_counter() - t0

        times: dict[str, list[float]] = {"import-tb": [], "read + record only": [], "EventAccumulator": []}
        for r in range(rounds):  # alternate the order
            order = [("import-tb", ours), ("read + record only", read_and_record), ("EventAccumulator", theirs)]
            for name, fn in order if r % 2 == 0 else reversed(order):
                times[name].append(fn(r))
    print(f"\n## import-tb vs EventAccumulator(size_guidance scalars=0): {runs} runs x {tags} tags x {steps} steps "
          f"= {total} scalars, {size / 2**20:.1f} MiB of event files, {rounds} alternating rounds (medians)")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, t in med.items():
        print(f"- {name}: {t:.2f} s = {total / t:,.0f} scalars/s")
    for name in ("import-tb", "read + record only"):
        print(f"- {name} / EventAccumulator time: {med[name] / med['EventAccumulator']:.2f}x")
    print("  (import-tb = reading + the recorder + the archive's files per run: curves, PNG, metadata, manifest, "
          "registry row)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--import-runs", type=int, default=10)
    parser.add_argument("--import-steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("tail", "import"))
    args = parser.parse_args()
    if args.only != "import":
        bench_tail(args.runs, args.tags, args.seconds, args.period)
    if args.only != "tail":
        bench_import(args.import_runs, args.tags, args.import_steps, args.rounds)


if __name__ == "__main__":
    main()
