"""one_run_is_one_version_under_torchrun: two real gloo ranks started by torch.distributed.run, one
RunTracker each, give exactly one version and one registry row, and both ranks carry its run id (in
their series' labels too, next to their own rank, under ranks="all"; only rank 0 serves under "zero")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from curvewatch.archive import ModelArchive
from fixtures.prometheus import free_port

WORKER = Path(__file__).with_name("torchrun_worker.py")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("init", ["init", "late"])
def test_one_run_is_one_version_under_torchrun(tmp_path: Path, init: str) -> None:
    root = tmp_path / "saved_models"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER), "tracker", init, str(root),
           str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["run_id"] == ranks[1]["run_id"] == "experiments/ddp/linear-v1"
    assert [r["rank"] for r in ranks] == [0, 1]
    assert [r["handle"] for r in ranks] == [True, False]
    assert [r["identifier"] for r in ranks] == ["experiments/ddp/linear", None]
    assert [r["served"] for r in ranks] == ([True, True] if init == "init" else [True, False])  # ranks all|zero
    assert [r["labelled"] for r in ranks] == [r["served"] for r in ranks]
    archive = ModelArchive(root)
    assert [(r.identifier, r.version, r.status) for r in archive.list()] == [("experiments/ddp/linear", 1, "complete")]
    assert sorted(p.name for p in (root / "experiments/ddp/linear").iterdir()) == ["v1"]
    assert json.loads((root / "versions.json").read_text()) == {"experiments/ddp/linear": 1}
    assert archive.verify("experiments/ddp/linear") == []
    archive.close()
