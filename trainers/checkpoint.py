"""Training checkpoints: plain dicts of tensors, numbers and strings, loadable with ``weights_only=True``.

A checkpoint holds everything a resumed run needs to continue exactly where it stopped: model, optimizer
and scheduler state, the RNG states, the recorder's state, the early-stopping state, the best score and
the per-epoch history.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ._constants import BEST_CHECKPOINT_FILE, CHECKPOINT_FORMAT_VERSION, EPOCH_CHECKPOINT_FORMAT, MODEL_FILE
from .errors import TrainerInputError

__all__ = ["CheckpointPaths", "load_checkpoint", "rng_state", "save_file", "set_rng_state"]


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


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by the loop, loaded with ``weights_only=True``; a clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise TrainerInputError(f"Checkpoint {path} does not exist; pass a checkpoint_*.pth of a version.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT_VERSION:
        raise TrainerInputError(
            f"{path} is not a curvewatch training checkpoint (format {CHECKPOINT_FORMAT_VERSION}); "
            "resume from a checkpoint_best.pth or checkpoint_epoch_N.pth."
        )
    return state


def rng_state() -> dict:
    """The torch RNG states (CPU and every CUDA device) as tensors."""
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
