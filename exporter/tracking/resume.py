"""Where a resumed run continues from: the checkpoint (a path, ``"last"`` or ``"best"``), checked, loaded and
turned back into the model, optimizer, scheduler, grad scaler, recorder, step, epoch and RNG states.

    point = find_checkpoint(root, key, "last")        # None: this key has no checkpoint yet (a fresh run)
    state = load_checkpoint(point.path)               # verified against the manifest of a complete version
    restore_objects(state, model=model, optimizer=opt, scheduler=sched, scaler=scaler)
    restore_rng(state["rng"])

A checkpoint written by ``RunTracker.epoch_end`` holds everything (``checkpoint_state``); ``"last"`` is the
newest checkpoint (highest epoch, periodic or best) of the newest version of the key that has one,
``"best"`` that version's ``checkpoint_best.pth``.

On a URL root (``s3://...``) ``find_checkpoint(root, key, choice, archive)`` chooses among the versions the
registry lists and the checkpoints the bucket holds (``RunTracker`` uploads each one as it is written), so a
run killed on one host resumes on another: a complete version is checked out whole (its manifest checks the
checkpoint), a reserved one's chosen checkpoints are downloaded into this host's cache.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RESUME_CHOICES", "ResumePoint", "checkpoint_state", "find_checkpoint", "load_checkpoint",
           "restore_objects", "restore_rng", "rng_state"]

RESUME_CHOICES = ("last", "best")  # besides a path
STATE_KEYS = ("epoch", "global_step", "model", "recorder", "tracker")  # what a resumable checkpoint holds
_OBJECT_KEYS = ("optimizer", "scheduler", "scaler")  # restored when passed (and saved when given)


@dataclass(frozen=True)
class ResumePoint:
    """A checkpoint to resume from: its file and the version directory it lives in (if in the archive)."""

    path: Path
    version_dir: Path | None = None
    version: int | None = None


def find_checkpoint(root: Path, key: Any, choice: str | os.PathLike[str], archive: Any = None) -> ResumePoint | None:
    """The checkpoint ``choice`` names: a path (which must exist), or ``"last"``/``"best"`` of the newest
    version of ``key`` holding one (None when there is none: the run starts fresh). With the ``archive`` of a
    URL root, the versions and checkpoints are the stored ones (see the module docstring)."""
    from curvewatch.archive.naming import archive_path, parse_version_dir

    if archive is not None and archive.storage.remote:
        return _find_stored(archive, key, choice)
    if isinstance(choice, str) and choice in RESUME_CHOICES:
        key_dir = archive_path(root, key)
        versions = sorted((v for p in (key_dir.iterdir() if key_dir.is_dir() else ())
                           if (v := parse_version_dir(p.name)) is not None), reverse=True)
        for version in versions:
            directory = archive_path(root, key, version)
            found = _best_file(directory) if choice == "best" else _last_file(directory)
            if found is not None:
                return ResumePoint(found, directory, version)
        return None
    path = Path(choice)
    if not path.is_file():
        raise FileNotFoundError(f"resume={str(choice)!r} is not a file; pass a checkpoint path, or one of "
                                f"{', '.join(map(repr, RESUME_CHOICES))}.")
    directory = path.resolve().parent
    version = parse_version_dir(directory.name)
    return ResumePoint(path, directory if version is not None else None, version)


def _find_stored(archive: Any, key: Any, choice: str | os.PathLike[str]) -> ResumePoint | None:
    from curvewatch.archive.naming import archive_path, parse_version_dir

    storage = archive.storage
    if not (isinstance(choice, str) and choice in RESUME_CHOICES):
        text = os.fspath(choice)
        if not text.startswith(archive.url + "/"):
            return find_checkpoint(archive.root, key, choice)  # a local file
        path = archive.root.joinpath(*text[len(archive.url) + 1:].split("/"))
        version = parse_version_dir(path.parent.name)
        stored = storage.read_state(path.parent)
        _bring(storage, path.parent, stored["state"], stored.get("manifest_sha256"), lambda: [path.name])
        if not path.is_file():
            raise FileNotFoundError(f"resume={text!r} is not stored; pass a checkpoint in the bucket, or one of "
                                    f"{', '.join(map(repr, RESUME_CHOICES))}.")
        return ResumePoint(path, path.parent if version is not None else None, version)
    for record in sorted(archive.list(identifier=key.identifier), key=lambda r: r.version, reverse=True):
        directory = archive_path(archive.root, key, record.version)
        _bring(storage, directory, record.status, record.manifest_sha256,
               lambda d=directory: _candidates(storage.names(d)))
        found = _best_file(directory) if choice == "best" else _last_file(directory)
        if found is not None:
            return ResumePoint(found, directory, record.version)
    return None


def _bring(storage: Any, directory: Path, state: str, digest: str | None, names: Callable[[], list[str]]) -> None:
    """A complete (or tampered) version whole, so its manifest checks the checkpoint; else just ``names()``
    (listed only then)."""
    from curvewatch.archive.naming import STATE_COMPLETE, STATE_TAMPERED

    if state in (STATE_COMPLETE, STATE_TAMPERED):
        storage.checkout(directory, digest=digest)
    else:
        storage.fetch(directory, names())


def _candidates(names: list[str]) -> list[str]:
    """Of a version's stored files, the ones ``"last"``/``"best"`` choose from: the best checkpoint and the
    periodic one of the highest epoch."""
    from curvewatch.archive.naming import CHECKPOINT_BEST_FILE

    pattern = _epoch_file_pattern()
    periodic = [(int(m.group(1)), name) for name in names if (m := pattern.match(name))]
    chosen = [max(periodic)[1]] if periodic else []
    return chosen + ([CHECKPOINT_BEST_FILE] if CHECKPOINT_BEST_FILE in names else [])


def _epoch_file_pattern() -> re.Pattern[str]:
    """``checkpoint_epoch_{epoch}.pth`` as a pattern whose group is the epoch."""
    from curvewatch.archive.naming import CHECKPOINT_EPOCH_FILE

    return re.compile("^" + re.escape(CHECKPOINT_EPOCH_FILE).replace(r"\{epoch\}", "([0-9]+)") + "$")


def _best_file(directory: Path) -> Path | None:
    from curvewatch.archive.naming import CHECKPOINT_BEST_FILE

    path = directory / CHECKPOINT_BEST_FILE
    return path if path.is_file() else None


def _last_file(directory: Path) -> Path | None:
    """The periodic checkpoint of the highest epoch, or the best one when it is newer (or the only one)."""
    pattern = _epoch_file_pattern()
    periodic = [(int(m.group(1)), p) for p in directory.iterdir() if (m := pattern.match(p.name))] \
        if directory.is_dir() else []
    last = max(periodic, default=None, key=lambda item: item[0])
    best = _best_file(directory)
    if best is not None and (last is None or _epoch_of(best) > last[0]):
        return best
    return None if last is None else last[1]


def _epoch_of(path: Path) -> int:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return int(state.get("epoch", -1)) if isinstance(state, dict) else -1


def load_checkpoint(point: ResumePoint) -> dict[str, Any]:
    """The checkpoint's content (``weights_only=True``), after checking it against the manifest of the
    complete version it belongs to; a sentence when it is changed, unreadable or not resumable."""
    import torch
    from curvewatch.archive.errors import ManifestMismatchError
    from curvewatch.archive.manifest import check_file
    from curvewatch.archive.naming import STATE_COMPLETE, STATE_TAMPERED
    from curvewatch.archive.status import read_status

    if point.version_dir is not None:
        status = read_status(point.version_dir)
        if status["state"] in (STATE_COMPLETE, STATE_TAMPERED):
            problem = check_file(point.version_dir, point.path.name, status.get("manifest_sha256"))
            if problem is not None:
                raise ManifestMismatchError(f"Cannot resume from {point.path}: {problem}; resume from another "
                                            "checkpoint or run `curvewatch versions verify` to see what changed.")
    try:
        state = torch.load(point.path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"Cannot resume from {point.path}: it cannot be loaded with weights_only=True "
                         f"({type(exc).__name__}).") from None
    missing = [k for k in STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise ValueError(f"Cannot resume from {point.path}: it lacks {', '.join(missing)}; resume from a "
                         "checkpoint that RunTracker.epoch_end wrote (checkpoint_best.pth or checkpoint_epoch_N.pth).")
    return state


def checkpoint_state(tracker: Any, model: Any, objects: dict[str, Any]) -> dict[str, Any]:
    """What ``epoch_end`` saves: the tracker's ``state_dict()`` (recorder, step, epoch, best so far), the
    weights, the passed optimizer/scheduler/scaler and the RNG states (so a resumed run draws the same numbers)."""
    from .checkpoints import state_dict_of

    return {**tracker.state_dict(), "model": state_dict_of(model),
            **{k: None if objects.get(k) is None else objects[k].state_dict() for k in _OBJECT_KEYS},
            "rng": rng_state()}


def restore_objects(state: dict[str, Any], model: Any = None, **objects: Any) -> list[str]:
    """Load the checkpoint's states into the objects passed; return the names restored. An object passed
    whose state the checkpoint lacks is a sentence, not a silent fresh start."""
    restored = []
    if model is not None:
        model.load_state_dict(state["model"])
        restored.append("model")
    for name, obj in objects.items():
        if obj is None:
            continue
        if state.get(name) is None:
            raise ValueError(f"The checkpoint has no {name} state, but a {name} was passed to restore; save it "
                             f"by passing {name}= to RunTracker (or epoch_end), or do not pass it when resuming.")
        obj.load_state_dict(state[name])
        restored.append(name)
    return restored


def rng_state() -> dict[str, Any]:
    """Python's, NumPy's and torch's (CPU and CUDA) random states, as types ``weights_only`` loads."""
    import numpy as np
    import torch

    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": [name, keys.tolist(), pos, has_gauss, cached],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def restore_rng(state: dict[str, Any] | None) -> None:
    """Put back the random states ``rng_state`` saved (nothing when the checkpoint has none)."""
    import numpy as np
    import torch

    if not state:
        return
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
