"""RunTracker.log() next to CurveRecorder.log(): the per-call cost the tracker adds (run by hand).

    .venv/bin/python bench/bench_tracker.py [--calls 200000] [--repeats 5]

Each repeat times both on the same two float metrics (both tracking the best train_loss), interleaved, and
prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import curvewatch


def _per_call_us(log, calls: int, step: bool) -> float:
    start = time.perf_counter()
    if step:
        for i in range(calls):
            log(i, train_loss=0.5, lr=0.1)
    else:
        for _ in range(calls):
            log(train_loss=0.5, lr=0.1)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    recorder_us, tracker_us = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            recorder = curvewatch.CurveRecorder(budget=1000)
            recorder.track_best("train_loss", "min")  # as the tracker's recorder does
            recorder_us.append(_per_call_us(recorder.log, args.calls, True))
            run = curvewatch.RunTracker("bench", root=f"{tmp}/saved_models", serve=False, best="train_loss")
            run.start()
            tracker_us.append(_per_call_us(run.log, args.calls, False))
            run.fail("benchmark")
            run.close()
    rec, trk = statistics.median(recorder_us), statistics.median(tracker_us)
    print(f"CurveRecorder.log {rec:.2f} us/call, RunTracker.log {trk:.2f} us/call (automatic step), "
          f"ratio {trk / rec:.2f}x, {args.calls} calls x {args.repeats} repeats")


if __name__ == "__main__":
    main()
