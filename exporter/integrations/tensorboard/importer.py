"""``curvewatch import-tb LOGDIR``: each run of a TensorBoard logdir becomes one archive version.

    results = import_logdir("logs", ModelArchive("saved_models"), best="val/loss", mode="min")
    for result in results:
        print(result.run_id, result.record.path)    # saved_models/experiments/logs/{run}/v{N}

Every scalar of every tag is read from the event files in full (not TensorBoard's 1,000-point
reservoir), restarts are resolved per tag (see ``scalars``), and the merged stream goes through a
:class:`CurveRecorder` in step order, so the archived curves keep each tag's first, last, minimum,
maximum and first non-finite value whatever its length. The best point is the ``best`` tag's
``mode`` in the runs that have that tag (none without ``best``). Tags are drawn in charts by their
prefix before the first ``/`` (as TensorBoard groups them). The version's ``metadata.json`` names the
logdir, the run, each event file read, the restarts and any problem found; ``model.pth`` is an empty
state dict (event files hold no weights). This is an import of finished data, not a training loop,
so it writes through the archive directly rather than through ``RunTracker``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curvewatch.archive import ModelArchive, ModelKey, VersionRecord, atomic_torch_save
from curvewatch.recorder import CurveRecorder

from .errors import TensorBoardInputError
from .events import EventFileReader
from .runs import event_files, find_runs
from .scalars import RunScalars

__all__ = ["ImportedRun", "RunRead", "archive_key", "archive_runs", "import_logdir", "read_logdir", "read_run",
           "record_run"]

log = logging.getLogger("curvewatch.integrations.tensorboard")

MODES = ("min", "max")
NO_WEIGHTS = "none: TensorBoard event files hold no weights (model.pth is an empty state dict)"
_NAME_REFUSED = re.compile(r"[^A-Za-z0-9_.-]+")


def _name(text: str, fallback: str) -> str:
    """``text`` as an archive name: ``/`` -> ``.``, other refused characters -> ``-``, at most 64 characters."""
    name = re.sub(r"\.{2,}", ".", _NAME_REFUSED.sub("-", text.replace("/", "."))).lstrip("-._")[:64].rstrip("-.")
    if not name or re.fullmatch(r"v\d+", name):
        name = f"{fallback}-{name}".rstrip("-")
    return name


def archive_key(experiment: str, run_id: str) -> ModelKey:
    """``experiments/{experiment}/{run}/``: the run's directory as the model type (``lr-0.1/seed_1`` ->
    ``lr-0.1.seed_1``); the exact run name is in the version's metadata."""
    return ModelKey.experiment(_name(experiment, "tensorboard"), model_type=_name(run_id, "run"))


@dataclass
class RunRead:
    """What the event files of one run held: the scalars, the files read, and sentences for any problem."""

    run_id: str
    scalars: RunScalars
    files: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    other_tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedRun:
    run_id: str
    record: VersionRecord
    scalars: int
    tags: tuple[str, ...]
    restarts: int
    problems: tuple[str, ...]


def read_run(run_id: str, run_dir: Path) -> RunRead:
    """Every scalar of ``run_dir``'s event files, oldest file first."""
    read = RunRead(run_id, RunScalars())
    for path in event_files(run_dir):
        reader = EventFileReader(path)
        count = 0
        for step, tag, value in reader.read():
            read.scalars.add(step, tag, value)
            count += 1
        read.files.append({"name": path.name, "bytes": reader.consumed, "events": reader.events, "scalars": count})
        if reader.problem:
            read.problems.append(reader.problem)
        read.other_tags.update(reader.other_tags)
    return read


def _charts(recorder: CurveRecorder, tags: list[str]) -> None:
    """One chart per tag prefix (``loss/train`` and ``loss/val`` share chart ``loss``, labelled ``train``
    and ``val``), as TensorBoard groups them; a tag without ``/`` gets a chart of its own."""
    groups: dict[str, list[str]] = {}
    for tag in tags:
        if "/" in tag:
            groups.setdefault(tag.split("/", 1)[0], []).append(tag)
    for prefix, members in groups.items():
        recorder.chart(prefix, members, title=prefix, labels={t: t.split("/", 1)[1] for t in members})


def record_run(read: RunRead, *, budget: int = 1000, best: str | None = None, mode: str = "min") -> CurveRecorder:
    """A finalized recorder holding the run's scalars in step order (best point by ``best``/``mode`` when the
    run has that tag)."""
    recorder = CurveRecorder(budget=budget)
    _charts(recorder, list(read.scalars.steps))
    if best is not None and best in read.scalars.steps:
        recorder.track_best(best, mode)
    for step, values in read.scalars.by_step():
        recorder.log(step, values)
    recorder.finalize()
    return recorder


def _metadata(logdir: Path, read: RunRead) -> dict[str, Any]:
    return {
        "source": {"kind": "tensorboard", "logdir": str(logdir.resolve()), "run": read.run_id,
                   "event_files": read.files},
        "model": NO_WEIGHTS,
        "tags": {tag: len(steps) for tag, steps in read.scalars.steps.items()},
        "restarts": [r._asdict() for r in read.scalars.restarts],
        "problems": read.problems,
        "non_scalar_tags": read.other_tags,
    }


def _archive(archive: ModelArchive, key: ModelKey, recorder: CurveRecorder, metadata: dict[str, Any],
             summary: dict[str, Any]) -> VersionRecord:
    handle = archive.allocate(key)
    try:
        atomic_torch_save({}, handle.model_path)
        return archive.commit(handle, recorder, metadata=metadata, metrics_summary=summary)
    except BaseException as exc:
        archive.fail(handle, f"import-tb stopped: {type(exc).__name__}: {exc}")
        raise


def read_logdir(logdir: str | os.PathLike[str], *, best: str | None = None,
                mode: str = "min") -> dict[str, RunRead]:
    """Every run's scalars under ``logdir``; a sentence (TensorBoardInputError) when there is nothing to import."""
    if mode not in MODES:
        raise TensorBoardInputError(f"`mode` can be {', '.join(MODES)}, got {mode!r}.")
    runs = find_runs(logdir)
    if not runs:
        raise TensorBoardInputError(f"{logdir} holds no TensorBoard event files (files named *tfevents*); "
                                    "pass the directory a SummaryWriter or TensorBoardLogger wrote to.")
    reads = {run_id: read_run(run_id, run_dir) for run_id, run_dir in runs.items()}
    if not any(read.scalars.steps for read in reads.values()):
        others = sorted({f"{tag} ({kind})" for read in reads.values() for tag, kind in read.other_tags.items()})
        problems = [p for read in reads.values() for p in read.problems]
        found = f"; it holds only {', '.join(others[:10])}" if others else ""
        more = f" {' '.join(problems[:3])}" if problems else ""
        raise TensorBoardInputError(f"{logdir} has no scalar values to import{found}. import-tb reads scalars "
                                    f"(add_scalar / tf.summary.scalar).{more}")
    if best is not None and not any(best in read.scalars.steps for read in reads.values()):
        tags = sorted({tag for read in reads.values() for tag in read.scalars.steps})
        raise TensorBoardInputError(f"No run has the tag {best!r} given to --best; the scalar tags are: "
                                    f"{', '.join(tags[:20])}.")
    return reads


def archive_runs(logdir: str | os.PathLike[str], reads: dict[str, RunRead], archive: ModelArchive, *,
                 experiment: str | None = None, best: str | None = None, mode: str = "min", budget: int = 1000,
                 on_problem: Callable[[str], None] = log.warning) -> list[ImportedRun]:
    """One version per run read by :func:`read_logdir`; problems that lose nothing else go to ``on_problem``."""
    root = Path(logdir)
    experiment = experiment or root.resolve().name
    results = []
    for run_id, read in reads.items():
        for problem in read.problems:
            on_problem(problem)
        if not read.scalars.steps:
            on_problem(f"Run {run_id!r} has no scalar values; no version was made for it.")
            continue
        if best is not None and best not in read.scalars.steps:
            on_problem(f"Run {run_id!r} has no tag {best!r}; its version has no best point.")
        recorder = record_run(read, budget=budget, best=best, mode=mode)
        doc_best = recorder.document["best"] if recorder.document else None
        summary = {} if not doc_best else {best: doc_best["value"], "best_step": doc_best["step"]}
        record = _archive(archive, archive_key(experiment, run_id), recorder, _metadata(root, read), summary)
        results.append(ImportedRun(run_id, record, read.scalars.count, tuple(read.scalars.steps),
                                   len(read.scalars.restarts), tuple(read.problems)))
    return results


def import_logdir(logdir: str | os.PathLike[str], archive: ModelArchive, *, experiment: str | None = None,
                  best: str | None = None, mode: str = "min", budget: int = 1000,
                  on_problem: Callable[[str], None] = log.warning) -> list[ImportedRun]:
    """:func:`read_logdir` then :func:`archive_runs`: one version per run under ``logdir``."""
    reads = read_logdir(logdir, best=best, mode=mode)
    return archive_runs(logdir, reads, archive, experiment=experiment, best=best, mode=mode, budget=budget,
                        on_problem=on_problem)
