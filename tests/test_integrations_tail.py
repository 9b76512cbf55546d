"""tail-tb: a real Prometheus sees a growing event file's newest value within one scrape interval."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from curvewatch.cli import main
from curvewatch.integrations.tensorboard import LogdirFollower
from fixtures.prometheus import free_port, poll, query, wait_for
from torch.utils.tensorboard import SummaryWriter

SCRAPE_INTERVAL_S = 1.0
CLOCK_SLACK_S = 0.5  # a scrape starts on time give or take the scheduler of a loaded 2-core machine


def _value(prom: str, run_id: str, metric: str = "loss") -> str:
    return f'curvewatch_value{{run_id="{run_id}",metric="{metric}"}}'


def _first_scrape_with(prom: str, selector: str, value: float) -> float:
    """The timestamp of the first scraped sample of ``selector`` equal to ``value`` (raw samples, last 30 s)."""
    wait_for(prom, f"{selector} == {value}", timeout=15)
    (series,) = query(prom, f"{selector}[30s]")
    return min(float(ts) for ts, v in series["values"] if float(v) == value)


@pytest.fixture
def tail_process(tmp_path: Path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    port = free_port()
    log_path = tmp_path / "tail.log"
    with log_path.open("wb") as out:
        # --interval 30: between scrapes nothing reads, so what a scrape shows it read at scrape time
        process = subprocess.Popen(
            [sys.executable, "-c", "from curvewatch.cli import main; raise SystemExit(main())", "tail-tb",
             str(logdir), "--port", str(port), "--interval", "30", "--rescan", "0.5"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        poll(lambda: requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).ok
             if process.poll() is None and b"Following" in log_path.read_bytes() else process.poll() is not None,
             30, "tail-tb to serve")
        assert process.poll() is None, log_path.read_text()
        yield logdir, port, process, log_path
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_tail_tb_exposes_a_growing_files_newest_value_within_one_scrape_interval(tail_process, prometheus_server):
    logdir, port, process, log_path = tail_process
    writer = SummaryWriter(str(logdir / "run-a"))
    for step in range(5):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.flush()
    prom = prometheus_server(scrape_targets=[f"127.0.0.1:{port}"], scrape_interval=f"{SCRAPE_INTERVAL_S:.0f}s").url
    wait_for(prom, _value(prom, "run-a"), timeout=30)

    delays = []
    for k in range(3):  # the file grows; each new value is in the first scrape after it was flushed
        value = 100.0 + k
        writer.add_scalar("loss", value, 10 + k)
        writer.flush()
        written = time.time()
        delays.append(_first_scrape_with(prom, _value(prom, "run-a"), value) - written)
    assert max(delays) <= SCRAPE_INTERVAL_S + CLOCK_SLACK_S, delays

    other = SummaryWriter(str(logdir / "group" / "run-b"))  # a new run appears
    other.add_scalar("loss", 3.5, 0)
    other.flush()
    wait_for(prom, f"{_value(prom, 'group/run-b')} == 3.5", timeout=15)

    writer.close()
    rotated = SummaryWriter(str(logdir / "run-a"))  # a new event file in the same run
    rotated.add_scalar("loss", 555.0, 20)
    rotated.flush()
    wait_for(prom, f"{_value(prom, 'run-a')} == 555", timeout=15)
    rotated.add_scalar("loss", 7.0, 3)  # a restart re-logs from step 3
    rotated.flush()
    wait_for(prom, 'curvewatch_step{run_id="run-a"} == 3', timeout=15)
    assert query(prom, 'curvewatch_run_info{run_id="run-a",mode="tensorboard",experiment="logs"}')
    rotated.close()
    other.close()
    process.terminate()
    assert process.wait(timeout=10) == 0, log_path.read_text()


def test_a_scrape_reads_what_was_appended_before_it(tmp_path: Path) -> None:
    run = tmp_path / "logs" / "run"
    writer = SummaryWriter(str(run))
    writer.add_scalar("loss/train", 2.0, 0)
    writer.flush()
    follower = LogdirFollower(tmp_path / "logs", rescan=0.0)
    labels = {"run_id": "run", "rank": "0", "chart": "loss/train", "metric": "loss/train"}
    assert follower.registry.get_sample_value("curvewatch_value", labels) == 2.0
    for step in range(1, 100):
        writer.add_scalar("loss/train", 2.0 + step, step)
        if step % 10 == 0:
            writer.add_scalar("epoch_acc", step / 100, step // 10)  # its own step axis, behind: never a purge
        writer.add_scalar("grad_norm", 1.0, 0)  # the same step again: no purge either
    writer.flush()
    assert follower.registry.get_sample_value("curvewatch_value", labels) == 101.0
    assert follower.registry.get_sample_value("curvewatch_points_total", labels) == 100
    assert follower.runs["run"].recorder.purged_points == 0
    acc = {**labels, "chart": "epoch_acc", "metric": "epoch_acc"}
    assert follower.registry.get_sample_value("curvewatch_value", acc) == pytest.approx(0.9)  # float32 on disk
    writer.close()


def test_tail_tb_on_a_missing_logdir_gets_a_sentence(tmp_path: Path, capsys) -> None:
    assert main(["tail-tb", str(tmp_path / "nope"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_a_file_replaced_under_its_name_is_read_again_from_its_start(tmp_path: Path) -> None:
    run = tmp_path / "logs" / "run"
    writer = SummaryWriter(str(run))
    for step in range(10):
        writer.add_scalar("loss", float(step), step)
    writer.close()
    (path,) = run.glob("*tfevents*")
    follower = LogdirFollower(tmp_path / "logs", rescan=0.0)
    labels = {"run_id": "run", "rank": "0"}
    assert follower.registry.get_sample_value("curvewatch_step", labels) == 9
    other = SummaryWriter(str(tmp_path / "elsewhere"))
    for step in range(5):
        other.add_scalar("loss", 100.0 + step, step)
    other.close()
    (new,) = (tmp_path / "elsewhere").glob("*tfevents*")
    new.replace(path)  # same name, another file: its steps go back, a restart
    line = {**labels, "chart": "loss", "metric": "loss"}
    assert follower.registry.get_sample_value("curvewatch_step", labels) == 4
    assert follower.registry.get_sample_value("curvewatch_value", line) == 104.0
    assert follower.runs["run"].recorder.purged_points > 0
