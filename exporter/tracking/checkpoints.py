"""The files ``RunTracker`` writes into a version: checkpoints, and ``model.pth`` from a model, a state dict
or an existing best checkpoint file (a framework's own, e.g. Lightning's ``ModelCheckpoint``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from curvewatch._atomic import atomic_write
from curvewatch.archive.atomic import atomic_torch_save

__all__ = ["copy_checkpoint", "save_checkpoint", "state_dict_of", "state_dict_from_checkpoint"]

# where a checkpoint dict keeps the model's weights: ours ("model"), Lightning's ("state_dict")
_WEIGHT_KEYS = ("model", "state_dict")


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(state, path)


def state_dict_of(model_or_state_dict: Any) -> dict[str, Any]:
    """The ``state_dict()`` of a module, or the mapping itself; a sentence for anything else."""
    state_dict = getattr(model_or_state_dict, "state_dict", None)
    if callable(state_dict):
        return state_dict()
    if isinstance(model_or_state_dict, dict):
        return model_or_state_dict
    raise TypeError(f"finish() takes a torch.nn.Module or its state_dict(), got {type(model_or_state_dict).__name__}.")


def copy_checkpoint(source: str | os.PathLike[str], target: Path) -> None:
    """Copy an existing checkpoint file into the version (atomically); nothing to do if it is already there."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"best_checkpoint={str(source)!r} is not a file; pass the path of a saved checkpoint.")
    if target.exists() and source.resolve() == target.resolve():
        return
    with atomic_write(target) as tmp:
        shutil.copyfile(source, tmp)


def state_dict_from_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The model weights in a checkpoint file, loaded with ``weights_only=True``: its ``model`` or
    ``state_dict`` entry, or the file itself when it is a plain state dict."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} cannot be loaded with weights_only=True ({type(exc).__name__}); "
                         "pass the model to finish(model, best_checkpoint=...) instead.") from None
    if isinstance(state, dict):
        for key in _WEIGHT_KEYS:
            if isinstance(state.get(key), dict):
                return state[key]
        if state and all(isinstance(v, torch.Tensor) for v in state.values()):
            return state
    raise ValueError(f"{path} holds no model weights (no 'model' or 'state_dict' entry); "
                     "pass the model to finish(model, best_checkpoint=...) instead.")
