"""The curves document: one strict JSON object per run (RFC 8259, PostgreSQL ``jsonb`` safe).

Non-finite numbers, which strict JSON has no form for, are written as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` wherever a number may be (``y`` arrays and ``value`` fields);
:func:`decode_document` turns them back into floats, so a round trip is exact. The JSON Schema
is ``exporter/schemas/curves.schema.json``.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from curvewatch._atomic import atomic_write_text
from curvewatch._json_reader import JSONReadError, loads_strict, read_json_file

from ._document_checks import array_problems, skeleton
from .best import BestPoint
from .errors import CurveDocumentError

if TYPE_CHECKING:
    from ._charts import Charts
    from ._line import Line

__all__ = [
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "decode_document",
    "encode_document",
    "load_document",
    "validate_document",
]

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "curves.schema.json"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def build(lines_by_metric: dict[str, Line], charts_of: Charts, run: dict[str, Any], best: BestPoint | None,
          final: bool) -> dict[str, Any]:
    """The document of a recorder's lines (already folded) and charts, with ``best`` inserted;
    ``run`` holds ``budget``, ``steps_total``, ``epoch`` and ``purged_points``."""
    charts = []
    lasts = [line.last[0] for line in lines_by_metric.values() if line.last is not None]
    last_step = max(lasts) if lasts else None  # the step of a point that is in a line
    for spec in charts_of.specs.values():
        lines = []
        for metric in spec.metrics:
            line = lines_by_metric.get(metric)
            if line is None or line.count == 0:
                continue
            steps, values = line.curve(spec.yscale)
            best_index = None
            if best is not None and metric in best.values:
                steps, values, best_index = _insert(steps, values, best.values[metric])
            lines.append({
                "metric": metric,
                "label": spec.labels.get(metric, metric),
                "x": steps.tolist(),
                "y": values.tolist(),
                "best_index": best_index,
                "points_logged": line.count,
                "purged_points": line.purged,
                "nonfinite_count": line.nonfinite_count,
                "first_nonfinite": _point(line.first_nonfinite),
            })
        if lines:
            charts.append({"name": spec.name, "title": spec.title, "xlabel": spec.xlabel,
                           "ylabel": spec.ylabel, "yscale": spec.yscale, "lines": lines})
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": "curvewatch",
        "final": final,
        "budget": run["budget"],
        "last_step": last_step,
        "steps_total": run["steps_total"],
        "epoch": run["epoch"],
        "purged_points": run["purged_points"],
        "charts": charts,
        "best": None if best is None else best.to_json(),
    }


def _insert(steps: np.ndarray, values: np.ndarray, point: tuple[int, float]) -> tuple[np.ndarray, np.ndarray, int]:
    """Insert ``point`` in step order unless it is already there; return its index."""
    step, value = point
    same = np.flatnonzero((steps == step) & ((values == value) | (np.isnan(values) & math.isnan(value))))
    if same.size:
        return steps, values, int(same[0])
    i = int(np.searchsorted(steps, step, side="right"))
    return np.insert(steps, i, step), np.insert(values, i, value), i


def _point(p: tuple[int, float] | None) -> dict[str, Any] | None:
    return None if p is None else {"step": p[0], "value": p[1]}


# -- strict JSON -------------------------------------------------------------------------
def encode_document(doc: dict[str, Any]) -> str:
    """Canonical strict JSON: sorted keys, no whitespace, non-finite numbers as strings."""
    return json.dumps(_encode(doc), sort_keys=True, separators=(",", ":"), allow_nan=False)


def decode_document(text: str | bytes) -> dict[str, Any]:
    """Parse a document written by :func:`encode_document`, restoring non-finite numbers.

    The text goes through the bounded strict reader (``curvewatch._json_reader``): too deep, too large,
    not UTF-8, ``NaN`` literals or overflowing numbers are a ``CurveDocumentError``, never another error.
    """
    try:
        obj = loads_strict(text)
    except JSONReadError as exc:
        raise CurveDocumentError(
            f"The curves document is not valid JSON: {exc}; restore it from the archive."
        ) from None
    return _decoded(obj)


def load_document(path: str | Path) -> dict[str, Any]:
    """Read and validate a curves JSON file (time linear in its size: 50 MB in seconds)."""
    try:
        obj = read_json_file(path)
    except JSONReadError as exc:
        raise CurveDocumentError(
            f"{path} is not a valid curves document: {exc}; restore it from the archive."
        ) from None
    return _decoded(obj)


def _decoded(obj: Any) -> dict[str, Any]:
    validate_document(obj)
    return _decode(obj)


def validate_document(doc: dict[str, Any]) -> None:
    """Raise CurveDocumentError listing every way ``doc`` (decoded or JSON form) breaks the schema.

    Beyond the schema: every line's ``x`` never decreases and its ``best_index`` points into it (see
    ``_document_checks``); the schema itself runs on the document without its point arrays.
    """
    import jsonschema

    obj = _encode(doc)
    errors = sorted(_validator(jsonschema).iter_errors(skeleton(obj)), key=lambda e: list(e.absolute_path))
    lines = [f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20]]
    if not errors:
        lines = array_problems(obj)[:20]
    if len(lines) == 1 and lines[0].startswith("Line "):
        raise CurveDocumentError(lines[0])
    if lines:
        raise CurveDocumentError("The curves document does not match the schema "
                                 f"{SCHEMA_PATH.name}:\n  " + "\n  ".join(lines))


@cache
def _validator(jsonschema: Any) -> Any:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema)


def _encode(obj: Any) -> Any:
    if isinstance(obj, float):
        if math.isnan(obj):
            return "NaN"
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any, key: str | None = None) -> Any:
    if isinstance(obj, dict):
        return {k: _decode(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, key) for v in obj]
    if key in ("y", "value") and isinstance(obj, str):
        return _NONFINITE[obj]
    if key in ("y", "value") and isinstance(obj, int) and not isinstance(obj, bool):
        return float(obj)
    return obj


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
