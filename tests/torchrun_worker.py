"""A torchrun worker for tests/test_prom_torchrun.py and tests/test_tracking_torchrun.py (not a test module).

Usage: python -m torch.distributed.run --nproc_per_node=2 ... tests/torchrun_worker.py BASE_PORT RANKS OUT_DIR
Each rank joins a gloo process group, does one all_reduce, logs a few steps, starts its exporter on
BASE_PORT (+ LOCAL_RANK under ranks="all"), writes OUT_DIR/rank{N}.port and serves until OUT_DIR/done
appears (at most 60 s).

Usage: ... tests/torchrun_worker.py tracker INIT ROOT OUT_DIR
Each rank trains a tiny DDP model with a RunTracker on ROOT (INIT "init": the process group is
initialised before the tracker starts, every rank serves; "late": after, so the run id goes through
torchrun's store, and only rank 0 serves) and writes OUT_DIR/rank{N}.json: its run id, whether it holds a
version handle, finish()'s identifier, whether it served and its series carried its rank and the run id.
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


def tracker(init: str, root: Path, out: Path) -> None:
    import json

    import curvewatch

    if init == "init":
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    import urllib.request

    ranks = "zero" if init == "late" else "all"
    with curvewatch.RunTracker("ddp", model_type="linear", root=root, ranks=ranks) as run:
        if init == "late":
            dist.init_process_group("gloo")
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 4), torch.randn(32, 1)
        for epoch in range(1, 3):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.log(train_loss=loss.detach())
            run.epoch_end(epoch, model.module, val_loss=float(loss))
        body = None if run.url is None else urllib.request.urlopen(run.url, timeout=10).read().decode()
        record = run.finish(model.module)
    result = {"run_id": run.run_id, "rank": run.rank, "handle": run.handle is not None,
              "identifier": None if record is None else record.identifier, "served": body is not None,
              "labelled": body is not None and f'rank="{run.rank}",run_id="{run.run_id}"' in body}
    (out / f"rank{dist.get_rank()}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    if sys.argv[1] == "tracker":
        tracker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
