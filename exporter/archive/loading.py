"""Load a committed model for prediction without unpickling arbitrary objects."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import VersionStateError
from .naming import METADATA_FILE, MODEL_FILE, STATE_COMPLETE
from .status import read_status

__all__ = ["load_model"]


def load_model(version_path: str | os.PathLike[str], *, require_complete: bool = True) -> tuple[Any, dict]:
    """``(state_dict, metadata)`` of a version directory.

    ``model.pth`` is read with ``torch.load(weights_only=True)`` (tensors and plain containers only),
    onto the CPU; ``metadata.json`` (parameters, scaler, metrics as plain numbers) with ``json``.
    """
    import torch

    directory = Path(version_path)
    if require_complete:
        status = read_status(directory)
        if status["state"] != STATE_COMPLETE:
            raise VersionStateError(
                f"{directory} is {status['state']}, not complete; load a complete version "
                "(`curvewatch versions list --status complete`)."
            )
    state_dict = torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True)
    metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
    return state_dict, metadata
