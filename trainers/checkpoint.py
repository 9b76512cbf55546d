"""Training checkpoints: plain dicts of tensors, numbers and strings, loadable with ``weights_only=True``.

A checkpoint holds everything a resumed run needs to continue exactly where it stopped: model, optimizer
and scheduler state, the RNG states, the recorder's state, the early-stopping state, the best score and
the per-epoch history.

Trust chain: ``load_checkpoint`` checks the file against its version's manifest before ``torch.load``
when the version was committed (a killed run's reserved version has no manifest yet: nothing recorded
a digest, so its checkpoints load unchecked); ``verify=False`` (``--no-verify``) skips the check. Every
problem is a ``TrainerInputError`` sentence, and ``check_resumable`` tells, before a version is
allocated, whether the checkpoint fits the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ._constants import BEST_CHECKPOINT_FILE, CHECKPOINT_FORMAT_VERSION, EPOCH_CHECKPOINT_FORMAT, MODEL_FILE
from .errors import TrainerInputError

__all__ = ["CheckpointPaths", "check_resumable", "load_checkpoint", "rng_state", "save_file", "set_rng_state"]

_REQUIRED_KEYS = ("model", "optimizer", "scheduler", "rng", "recorder", "early_stopping", "history", "best",
                  "global_step", "epoch")


@dataclass(frozen=True)
class CheckpointPaths:
    """Where the loop writes its files when no archive version is used; same attributes as a version handle."""

    directory: Path

    @property
    def model_path(self) -> Path:
        return Path(self.directory) / MODEL_FILE

    @property
    def best_checkpoint_path(self) -> Path:
        return Path(self.directory) / BEST_CHECKPOINT_FILE

    def checkpoint_path(self, epoch: int) -> Path:
        return Path(self.directory) / EPOCH_CHECKPOINT_FORMAT.format(epoch=epoch)


def save_file(obj: dict, path: str | Path) -> None:
    """``torch.save`` through a temporary file and ``os.replace`` (the archive's atomic writer)."""
    from curvewatch.archive.atomic import atomic_torch_save

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(obj, path)


def load_checkpoint(path: str | Path, *, verify: bool = True) -> dict:
    """A checkpoint written by the loop, checked against its manifest (see the module docstring) and
    loaded with ``weights_only=True``; a ``TrainerInputError`` sentence otherwise."""
    from curvewatch.archive import ArchiveError, load_verified

    path = Path(path)
    if not path.is_file():
        raise TrainerInputError(f"Checkpoint {path} does not exist; pass a checkpoint_*.pth of a version.")
    try:
        state = load_verified(path, verify=verify, required=False)
    except ArchiveError as exc:
        raise TrainerInputError(str(exc)) from None
    missing = [k for k in _REQUIRED_KEYS if k not in state] if isinstance(state, dict) else list(_REQUIRED_KEYS)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT_VERSION or missing:
        raise TrainerInputError(
            f"{path} is not a curvewatch training checkpoint (format {CHECKPOINT_FORMAT_VERSION}); "
            "resume from a checkpoint_best.pth or checkpoint_epoch_N.pth."
        )
    return state


def check_resumable(model: torch.nn.Module, state: dict, path: str | Path) -> None:
    """Raise ``TrainerInputError`` unless ``state``'s weights fit ``model`` (checked before allocating)."""
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError, KeyError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise TrainerInputError(
            f"{path} was saved by another model or other options ({first}); resume with the --model, "
            "--lookback, --horizon and size options of the run that wrote it."
        ) from None


def rng_state() -> dict:
    """The torch RNG states (CPU and every CUDA device) as tensors."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
