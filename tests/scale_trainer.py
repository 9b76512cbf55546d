"""A small real trainer process for the scale-out tests: serves its recorder on ADDR and registers it.

``python tests/scale_trainer.py RUN_ID ADDR REGISTRY_URL`` logs a decreasing loss 20 times a second
through a recorder with the trainer charts, serves it on ``ADDR`` (a 127.0.0.x loopback address) on a
free port and registers the endpoint in the shared registry (``Exporter.start(registry_url=...)``, with
the label ``team="scale"``), then prints ``serving HOST:PORT``. On SIGTERM it marks the run finished and
stops (the registration is deleted); SIGKILL leaves the entry to expire.
"""

from __future__ import annotations

import signal
import sys
import threading

from curvewatch import CurveRecorder
from curvewatch.prom import Exporter, RunInfo

STEP_S = 0.05


def main(run_id: str, addr: str, registry_url: str) -> None:
    recorder = CurveRecorder(budget=200)
    recorder.chart("loss", ["train_loss", "val_loss"], yscale="log")
    recorder.track_best("val_loss", mode="min")
    exporter = Exporter(recorder, run=RunInfo(run_id=run_id, model_type="linear", mode="test", rank=0))
    port = exporter.start(port=0, addr=addr, registry_url=registry_url, sd_labels={"team": "scale"})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"serving {addr}:{port}", flush=True)
    step = 0
    while not stop.wait(STEP_S):
        step += 1
        recorder.log(step, train_loss=1.0 / step)
        if step % 10 == 0:
            recorder.log(step, val_loss=1.5 / step)
    exporter.state = "finished"
    exporter.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
