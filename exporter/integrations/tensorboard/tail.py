"""``curvewatch tail-tb LOGDIR``: live gauges for every run a TensorBoard logdir holds, as its files grow.

    follower = LogdirFollower("logs")
    follower.exporter.start(port=9100)      # a curvewatch.prom.Exporter serving every run
    follower.run(stop_event)                # polls until stop_event is set

Each run (a directory holding event files, see ``runs``) gets a :class:`CurveRecorder` exposed with
``run_id`` = the run's directory relative to the logdir. New runs, new event files in a run (a
restarted writer, a rotated file) and a file replaced under the same name are picked up; files are
read from where the last read stopped (TensorBoard's own record loader: an incomplete record at the
end is read once it is complete).

Every scrape reads what was appended since the last read before it answers, so a value flushed to
an event file is in the next scrape: it reaches Prometheus within one scrape interval. Between
scrapes a background poll keeps reading, and looks for new runs every ``rescan`` seconds.

Every tag is logged at its own step: a tag whose step goes below its own last step is a restart (the
recorder drops that tag's points from that step on, as a resumed run re-logs them); a tag merely behind
another (logged per epoch beside one per batch) purges nothing, since the recorder purges per metric.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from curvewatch.prom import Exporter, RunInfo
from curvewatch.recorder import CurveRecorder
from prometheus_client.registry import CollectorRegistry

from .events import EventFileReader
from .runs import check_logdir, event_files, find_runs

__all__ = ["DEFAULT_INTERVAL_S", "DEFAULT_RESCAN_S", "LogdirFollower", "RunFollower"]

log = logging.getLogger("curvewatch.integrations.tensorboard")

DEFAULT_INTERVAL_S = 1.0  # background poll of the known files
DEFAULT_RESCAN_S = 5.0  # walk of the logdir for new runs


class RunFollower:
    """One run: its event files' readers and the recorder they feed."""

    def __init__(self, run_id: str, run_dir: Path, recorder: CurveRecorder) -> None:
        self.run_id, self.run_dir, self.recorder = run_id, run_dir, recorder
        self.readers: dict[str, tuple[int, EventFileReader]] = {}  # file name -> (inode, reader)

    def _files(self) -> list[EventFileReader]:
        current = []
        for path in event_files(self.run_dir):
            try:
                inode = path.stat().st_ino
            except OSError:
                continue
            known = self.readers.get(path.name)
            if known is None or known[0] != inode or known[1].size < known[1].consumed:
                known = self.readers[path.name] = (inode, EventFileReader(path))
            current.append(known[1])
        names = {r.path.name for r in current}
        for name in [n for n in self.readers if n not in names]:  # deleted or rotated away
            del self.readers[name]
        return current

    def poll(self) -> int:
        """Read what the run's files gained; return the number of scalars logged."""
        count = 0
        for reader in self._files():
            if reader.size <= reader.consumed:
                continue
            for step, tag, value in reader.read():
                self.recorder.log(step, {tag: value})  # a tag going back purges its own tail only
                count += 1
        return count


class LogdirFollower:
    """Every run under ``logdir``, each exposed through ``self.exporter`` as soon as it appears."""

    def __init__(self, logdir: str | os.PathLike[str], *, budget: int = 1000, live_window: float = 60.0,
                 rescan: float = DEFAULT_RESCAN_S) -> None:
        self.logdir = check_logdir(logdir)
        self.budget, self.live_window, self.rescan = budget, live_window, rescan
        self.runs: dict[str, RunFollower] = {}
        self.skipped: set[str] = set()
        self._lock = threading.Lock()
        self._scanned = -float("inf")
        self.experiment = self.logdir.resolve().name
        self.registry = CollectorRegistry()
        self.registry.register(_PollOnScrape(self))  # first: a scrape reads the files before the gauges
        self.exporter = Exporter(registry=self.registry)

    def _scan(self) -> None:
        for run_id, run_dir in find_runs(self.logdir).items():
            if run_id in self.runs or run_id in self.skipped:
                continue
            try:
                info = RunInfo(run_id=run_id, mode="tensorboard", experiment=self.experiment)
            except ValueError as exc:
                self.skipped.add(run_id)
                log.warning("Run directory %s is not followed: %s", run_dir, exc)
                continue
            recorder = CurveRecorder(budget=self.budget, live_window=self.live_window)
            self.runs[run_id] = RunFollower(run_id, run_dir, recorder)
            self.exporter.add(recorder, info)
            log.info("Following run %r (%s).", run_id, run_dir)

    def poll(self) -> int:
        """Look for new runs when due, then read every run's new scalars; return how many were read."""
        with self._lock:
            now = time.monotonic()
            if now - self._scanned >= self.rescan:
                self._scanned = now
                self._scan()
            return sum(run.poll() for run in self.runs.values())

    def run(self, stop: threading.Event, interval: float = DEFAULT_INTERVAL_S) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.poll()
            except OSError as exc:  # a file vanishing between listing and reading: next poll sees the change
                log.warning("Reading %s failed (%s); retrying at the next poll.", self.logdir, exc)
            stop.wait(interval)


class _PollOnScrape:
    """Registered before the exporter's collector: a scrape first reads the files, so it sees the newest values."""

    def __init__(self, follower: LogdirFollower) -> None:
        self.follower = follower

    def describe(self):
        return []

    def collect(self):
        try:
            self.follower.poll()
        except OSError as exc:
            log.warning("Reading %s at scrape time failed (%s).", self.follower.logdir, exc)
        return []
