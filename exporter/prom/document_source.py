"""A saved curves document (``curves.json``) as a source for the collector: ``curvewatch serve``.

>>> exporter = Exporter(DocumentSource("saved_models/.../v3/curves.json"), run="mlp-v3")

``live()`` re-reads the file when its modification time changes (a trainer that saves mid-run is
followed) and maps the document onto the live view: latest step, epoch and steps; per line the last
kept value, the points logged, the non-finite count and first non-finite step; the best point. A saved
document has no wall clock, so its "window" is the whole run: window min/max are over every finite
kept value (the recorder always keeps each line's extremes) and ``window_seconds`` is +Inf; the
heartbeat is the file's modification time.

Guarantees (tests named after them in ``tests/test_hardening_serve.py``):
- scrapes_are_answered_while_a_document_reloads: a changed file is read and validated outside the lock
  by one scrape at a time; the others (and that one, if the new file is invalid) get the previous view.
- archived_documents_carry_the_archive_run_id_and_labels: ``archived_run_info`` names a document that
  sits in an archive version directory ``{identifier}-v{N}`` with the key's ``model_type``, ``mode``,
  ``scope``, the version, the experiment (an experiment key's name, else the metadata's ``experiment``)
  and the host its provenance recorded, the labels the run had live, so it joins its live series.
- a_tampered_archived_document_is_never_served: a document in a complete archive version is checked
  against the version's manifest (``check_file``) each time it is read; a changed file is refused at
  start and, on a reload, the previous view is kept, with a sentence naming the command that audits it.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

from curvewatch.prom.run_info import RunInfo
from curvewatch.recorder import BestLive, CurveDocumentError, LineLive, LiveView, load_document

__all__ = ["DocumentSource", "archived_run_info", "live_view_from_document", "tampering_of"]

log = logging.getLogger(__name__)


def _line_live(chart: str, line: dict[str, Any]) -> LineLive:
    finite = [float(y) for y in line["y"] if math.isfinite(y)]
    first = line["first_nonfinite"]
    return LineLive(
        chart=chart,
        metric=line["metric"],
        step=int(line["x"][-1]) if line["x"] else 0,
        value=float(line["y"][-1]) if line["y"] else math.nan,
        window_min=min(finite, default=math.nan),
        window_max=max(finite, default=math.nan),
        nonfinite_total=int(line["nonfinite_count"]),
        first_nonfinite_step=None if first is None else int(first["step"]),
        points_total=int(line["points_logged"]),
    )


def live_view_from_document(doc: dict[str, Any], mtime: float | None = None) -> LiveView:
    """The live view a finished (or saved mid-run) document stands for; see the module docstring."""
    best = doc["best"]
    last_step = doc["last_step"]
    best_live = ()
    if best is not None:
        since = None if last_step is None else int(last_step) - int(best["step"])
        best_live = (BestLive(best["metric"], best["mode"], float(best["value"]), int(best["step"]), since),)
    return LiveView(
        step=last_step,
        epoch=doc["epoch"],
        steps_total=int(doc["steps_total"]),
        last_log_unixtime=mtime,
        window_seconds=math.inf,
        finalized=bool(doc["final"]),
        lines=tuple(_line_live(chart["name"], line) for chart in doc["charts"] for line in chart["lines"]),
        best=best_live,
    )


def tampering_of(path: Path) -> str | None:
    """Why a ``curves.json`` of a complete archive version cannot be trusted (``None``: it is the file the
    manifest recorded at commit, or it is not in a complete version: a trainer saving mid-run)."""
    from curvewatch._json_reader import JSONReadError, read_json_file
    from curvewatch.archive.manifest import check_file
    from curvewatch.archive.naming import STATE_COMPLETE, STATUS_FILE

    try:
        status = read_json_file(path.parent / STATUS_FILE)
    except (OSError, JSONReadError):
        return None  # no marker: not an archive version
    if not isinstance(status, dict) or status.get("state") != STATE_COMPLETE:
        return None
    problem = check_file(path.parent, path.name, status.get("manifest_sha256"))
    if problem is None:
        return None
    return (f"{path} is in a complete archive version but {problem}; it is not served. Audit it with "
            f"`curvewatch versions verify {status.get('identifier')} {status.get('version')}`.")


def archived_run_info(path: str | os.PathLike[str]) -> RunInfo | None:
    """The run of a ``curves.json`` inside an archive version directory (its ``status.json`` names the
    identifier and version of that directory), or ``None`` for any other file."""
    from curvewatch._json_reader import JSONReadError, read_json_file
    from curvewatch.archive import IdentifierError, ModelKey
    from curvewatch.archive.naming import CURVES_FILE, METADATA_FILE, RUN_ID_FORMAT, STATUS_FILE, parse_version_dir

    path = Path(path).absolute()
    version = parse_version_dir(path.parent.name)
    if path.name != CURVES_FILE or version is None:
        return None
    try:
        status = read_json_file(path.parent / STATUS_FILE)
        key = ModelKey.parse(status["identifier"])
    except (OSError, JSONReadError, IdentifierError, KeyError, TypeError):
        return None
    if status.get("version") != version or not path.parent.parent.as_posix().endswith("/" + key.relative_dir):
        return None  # the marker names another version or key than the directory the file is in
    try:
        metadata = read_json_file(path.parent / METADATA_FILE)
    except (OSError, JSONReadError):
        metadata = None
    metadata = metadata if isinstance(metadata, dict) else {}
    experiment = key.subject if key.mode == "experiment" else metadata.get("experiment")
    recorded = metadata.get("provenance")
    host = recorded.get("host") if isinstance(recorded, dict) else None
    return RunInfo(
        run_id=RUN_ID_FORMAT.format(identifier=key.identifier, version=version),
        model_type=key.model_type,
        mode=key.mode,
        scope="/".join(key.scope),
        version=str(version),
        experiment=experiment if isinstance(experiment, str) else "",
        rank=0,
        **({"host": host} if isinstance(host, str) and host else {}),
    )


class DocumentSource:
    """Anything with ``live()``, read from a curves JSON file (validated; reloaded when it changes)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"The curves document {self.path} does not exist; pass the path of a saved curves.json."
            )
        self._lock = threading.Lock()  # guards _view/_mtime: held for an assignment, never for a load
        self._reload = threading.Lock()  # one scrape at a time reads a changed file
        self._mtime: float | None = None
        self._view: LiveView | None = None
        self.live()  # a missing or invalid file fails here, with the recorder's clear message

    def live(self) -> LiveView:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = None  # gone for a moment (being replaced): keep what we have
        with self._lock:
            view, seen = self._view, self._mtime
        if view is not None and (mtime is None or mtime == seen):
            return view
        if not self._reload.acquire(blocking=view is None):
            return view  # another scrape is reading the new file: serve the previous view meanwhile
        try:
            with self._lock:
                if self._view is not None and self._mtime == mtime:
                    return self._view  # read by the scrape we waited for
            try:
                problem = tampering_of(self.path.absolute())
                if problem is not None:
                    raise CurveDocumentError(problem)
                fresh = live_view_from_document(load_document(self.path), mtime)
            except (OSError, CurveDocumentError) as exc:
                if view is None:
                    raise
                log.warning("curvewatch serve: keeping the previous %s: %s", self.path, str(exc).splitlines()[0])
                with self._lock:
                    self._mtime = mtime  # not retried on every scrape; a new write changes mtime again
                return view
            with self._lock:
                self._view, self._mtime = fresh, mtime
            return fresh
        finally:
            self._reload.release()
