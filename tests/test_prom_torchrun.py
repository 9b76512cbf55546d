"""torchrun: every rank serves its own endpoint (base port + LOCAL_RANK) with its rank label, or
only rank 0 serves; checked with two real gloo processes started by torch.distributed.run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from fixtures.prometheus import free_port, poll

WORKER = Path(__file__).with_name("torchrun_worker.py")


def two_free_ports() -> int:
    for _ in range(50):
        base = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise AssertionError("No two consecutive free ports on 127.0.0.1.")


def run_ranks(tmp_path: Path, ranks: str) -> tuple[int, dict[int, str], subprocess.Popen]:
    base = two_free_ports()
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER), str(base), ranks, str(tmp_path)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        poll(lambda: all((tmp_path / f"rank{r}.port").exists() for r in (0, 1)) or proc.poll() is not None,
             timeout=90, what="both ranks to start their exporters")
    except AssertionError:
        proc.kill()
        raise
    assert proc.poll() is None, proc.communicate()[0]
    return base, {r: (tmp_path / f"rank{r}.port").read_text() for r in (0, 1)}, proc


def finish(tmp_path: Path, proc: subprocess.Popen) -> None:
    (tmp_path / "done").touch()
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output


@pytest.mark.timeout(180)
def test_under_torchrun_each_rank_serves_on_base_port_plus_local_rank_with_its_rank_label(tmp_path) -> None:
    base, ports, proc = run_ranks(tmp_path, "all")
    try:
        assert ports == {0: str(base), 1: str(base + 1)}
        for rank in (0, 1):
            body = requests.get(f"http://127.0.0.1:{base + rank}/metrics", timeout=10).text
            assert f'curvewatch_steps_total{{rank="{rank}",run_id="ddp-run"}} 10.0' in body
            assert f'curvewatch_value{{chart="train_loss",metric="train_loss",rank="{rank}",run_id="ddp-run"}} 0.3' \
                in body
    finally:
        finish(tmp_path, proc)


@pytest.mark.timeout(180)
def test_under_torchrun_with_ranks_zero_only_rank_zero_serves(tmp_path) -> None:
    base, ports, proc = run_ranks(tmp_path, "zero")
    try:
        assert ports == {0: str(base), 1: "None"}
        body = requests.get(f"http://127.0.0.1:{base}/metrics", timeout=10).text
        assert 'rank="0"' in body and 'rank="1"' not in body
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{base + 1}/metrics", timeout=5)
    finally:
        finish(tmp_path, proc)
