"""The spike events a run's live detector archived (``signals.spikes`` in metadata.json), for the views' markers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .source import LoadedCurves

__all__ = ["archived_spikes"]


def archived_spikes(loaded: LoadedCurves) -> dict[str, list[Any]]:
    """metric -> ``[(first step, size), ...]`` from the version's metadata.json; none for a plain curves file,
    a run without a detector or an unreadable file (the view is drawn without markers)."""
    folder = loaded.metadata.get("path")
    if not folder:
        return {}
    try:
        spikes = json.loads((Path(folder) / "metadata.json").read_text(encoding="utf-8"))["signals"]["spikes"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return spikes if isinstance(spikes, dict) else {}
