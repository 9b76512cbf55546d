"""Where a view's curves come from: ``ID[:VERSION]`` in the registry (SQLite or PostgreSQL), or a curves.json file.

>>> with Sources(root="saved_models") as sources:
...     version = sources.load("product_P001_all_mlstm:3")      # or "...:latest", or "run/curves.json"
>>> version.label, version.doc["charts"][0]["name"]             # ('product_P001_all_mlstm-v3', 'loss')

Views read what the archive wrote (the stored curves document); they never re-derive curves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoadedCurves", "Sources", "ViewError"]

_LATEST = "latest"


class ViewError(ValueError):
    """A version or file could not be shown; the message says what to do."""


@dataclass(frozen=True)
class LoadedCurves:
    """One curves document (decoded: NaN/inf as floats) and what is known about where it came from."""

    label: str  # the run id (``{identifier}-v{N}``) or the file's path
    doc: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)  # registry columns, or the file path
    # manifest check: [] intact, a list of problems, or None when not checked (a plain file)
    problems: list[str] | None = None


class Sources:
    """Loads ``ID[:VERSION]`` specs from one archive (opened on first use) and curves.json paths."""

    def __init__(self, root: str | Path = "saved_models", db_url: str | None = None) -> None:
        self.root = Path(root)
        self.db_url = db_url
        self._archive: Any = None

    def _open_archive(self) -> Any:
        if self._archive is None:
            from curvewatch.archive import ModelArchive
            from curvewatch.archive.naming import REGISTRY_DB_FILE
            from curvewatch.archive.storage import root_url

            default_db = self.root.absolute().parent / REGISTRY_DB_FILE
            if self.db_url is None and root_url(self.root) is None and not default_db.is_file():
                raise ViewError(f"There is no registry at {default_db}; pass --root (or --db-url) of the archive, "
                                f"or the path of a curves.json file.")
            self._archive = ModelArchive(self.root, db_url=self.db_url, read_only=True)  # views only read
        return self._archive

    def load(self, spec: str) -> LoadedCurves:
        """The curves of ``spec``: an existing ``*.json`` path, else ``ID``, ``ID:N`` or ``ID:latest``."""
        path = Path(spec)
        if path.suffix == ".json" or path.is_file():
            return _load_file(path)
        identifier, _, version = spec.partition(":")
        version = version or _LATEST
        if version != _LATEST and not version.isdigit():
            raise ViewError(f"{spec!r}: the version after ':' must be a number or 'latest'.")
        from curvewatch.archive import ArchiveError
        from curvewatch.recorder import decode_document

        archive = self._open_archive()
        try:
            record = archive.get(identifier, _LATEST if version == _LATEST else int(version))
            problems = archive.verify(identifier, record.version)
        except (ArchiveError, ValueError) as exc:
            raise ViewError(str(exc)) from exc
        if record.curves is None:
            raise ViewError(f"{record.run_id} is {record.status} and has no curves; pick a complete version "
                            f"(`curvewatch versions list --identifier {identifier}`).")
        meta = record.to_json()
        meta["registry"] = archive.registry.engine.url.render_as_string(hide_password=True)
        return LoadedCurves(record.run_id, decode_document(json.dumps(record.curves)), meta, problems)

    def close(self) -> None:
        """Release the archive's database connections."""
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _load_file(path: Path) -> LoadedCurves:
    from curvewatch.recorder import CurveDocumentError, load_document

    if not path.is_file():
        raise ViewError(f"{path} does not exist; give the path of a curves.json file or ID[:VERSION].")
    try:
        doc = load_document(path)
    except (CurveDocumentError, OSError, ValueError) as exc:
        raise ViewError(f"{path} is not a curves document ({exc}); give a curves.json written by curvewatch.") from exc
    return LoadedCurves(path.as_posix(), doc, {"path": str(path.absolute())}, None)
