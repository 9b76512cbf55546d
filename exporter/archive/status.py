"""A version's state marker (``status.json``): reserved, complete or failed.

The marker is written atomically, and ``complete`` is written only after every other file of the
version (and the manifest) is in place, so a version that says complete is never half-written, and a
killed run leaves its version ``reserved`` (incomplete). A directory without a readable marker counts as
reserved.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from curvewatch._json_reader import JSONReadError, loads_strict, read_json_file

from .atomic import atomic_write_json
from .naming import STATE_RESERVED, STATES, STATUS_FILE

__all__ = ["parse_status", "read_status", "write_status"]


def write_status(directory: Path, state: str, **info: Any) -> None:
    """Atomically set the state of the version in ``directory`` (extra ``info`` is kept in the marker)."""
    if state not in STATES:
        raise ValueError(f"state can be {', '.join(STATES)}, got {state!r}.")
    atomic_write_json(directory / STATUS_FILE, {"state": state, "updated_unixtime": time.time(), **info})


def read_status(directory: Path) -> dict[str, Any]:
    """The marker's content; ``{"state": "reserved", "problem": ...}`` if it is missing or unreadable."""
    try:
        data = read_json_file(directory / STATUS_FILE)
    except FileNotFoundError:
        return {"state": STATE_RESERVED, "problem": f"{STATUS_FILE} is missing"}
    except JSONReadError as exc:
        return {"state": STATE_RESERVED, "problem": f"{STATUS_FILE} is unreadable ({exc})"}
    return _checked(data)


def parse_status(raw: bytes | None) -> dict[str, Any]:
    """``read_status`` of a marker's bytes (``None``: no marker), e.g. one read from an object store."""
    if raw is None:
        return {"state": STATE_RESERVED, "problem": f"{STATUS_FILE} is missing"}
    try:
        return _checked(loads_strict(raw))
    except JSONReadError as exc:
        return {"state": STATE_RESERVED, "problem": f"{STATUS_FILE} is unreadable ({exc})"}


def _checked(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("state") not in STATES:
        return {"state": STATE_RESERVED, "problem": f"{STATUS_FILE} has no valid state"}
    return data
