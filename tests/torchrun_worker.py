"""A torchrun worker for tests/test_prom_torchrun.py (not a test module).

Usage: python -m torch.distributed.run --nproc_per_node=2 ... tests/torchrun_worker.py BASE_PORT RANKS OUT_DIR
Each rank joins a gloo process group, does one all_reduce, logs a few steps, starts its exporter on
BASE_PORT (+ LOCAL_RANK under ranks="all"), writes OUT_DIR/rank{N}.port and serves until OUT_DIR/done
appears (at most 60 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from curvewatch import CurveRecorder
from curvewatch.prom import Exporter, RunInfo


def main(base_port: int, ranks: str, out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    total = torch.ones(1) * (rank + 1)
    dist.all_reduce(total)  # a real collective: 1 + 2 = 3 on both ranks
    rec = CurveRecorder(budget=64)
    exporter = Exporter(rec, run=RunInfo(run_id="ddp-run", model_type="mlp"), ranks=ranks)
    port = exporter.start(port=base_port)
    for step in range(10):
        rec.log(step, train_loss=float(total[0]) / (step + 1))
    (out / f"rank{rank}.port").write_text(str(port))
    deadline = time.monotonic() + 60
    while not (out / "done").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    exporter.stop()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
