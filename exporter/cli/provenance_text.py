"""How ``curvewatch versions show`` reads and prints a version's provenance (``metadata.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["provenance_lines", "read_provenance"]

_WIDTH = 17  # the label column of `versions show`


def read_provenance(version_path: Path) -> dict[str, Any] | None:
    """The ``provenance`` of the version's metadata.json, or None (no file, unreadable, or none recorded)."""
    from curvewatch._json_reader import JSONReadError, read_json_file
    from curvewatch.archive.naming import METADATA_FILE
    from curvewatch.provenance import PROVENANCE_KEY

    try:
        meta = read_json_file(Path(version_path) / METADATA_FILE)  # bounded: a hostile file is "unreadable"
    except (OSError, JSONReadError):
        return None
    found = meta.get(PROVENANCE_KEY) if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else None


def _git_text(git: Any) -> str:
    if not isinstance(git, dict):
        return "not a git checkout"
    state = {True: " (dirty: uncommitted changes)", False: " (clean)"}.get(git.get("dirty"), "")
    return f"{git.get('commit') or 'no commit'}{state} in {git.get('root', '?')}"


def provenance_lines(prov: dict[str, Any] | None) -> list[str]:
    """``provenance:`` and one indented line per field, or one line saying none was recorded."""
    if not prov:
        return [f"{'provenance:':<{_WIDTH}} - (none recorded)"]
    packages = prov.get("packages") if isinstance(prov.get("packages"), dict) else {}
    fields = [
        ("recorded at", prov.get("recorded_at")),
        ("command", " ".join(map(str, prov.get("command") or [])) or None),
        ("entry point", prov.get("entry_point")),
        ("host / user", f"{prov.get('host') or '?'} / {prov.get('user') or '?'}"),
        ("cwd", prov.get("cwd")),
        ("python", prov.get("python")),
        ("packages", " ".join(f"{k}={v}" for k, v in packages.items()) or None),
        ("git", _git_text(prov.get("git"))),
        ("resumed from", prov.get("resumed_from")),
    ]
    lines = ["provenance:"] + [f"  {name + ':':<{_WIDTH - 2}} {value if value not in (None, '') else '-'}"
                               for name, value in fields]
    for item in prov.get("data") or []:
        if isinstance(item, dict):
            lines.append(f"  {'data:':<{_WIDTH - 2}} {item.get('path')} sha256={item.get('sha256') or '-'}")
    return lines
