"""The curves document's per-point checks, in time linear in the document's size.

``validate_document`` runs the JSON Schema on the document's skeleton (every line's ``x`` and ``y``
emptied) and these checks on the arrays, so a 50 MB document is validated in seconds, where the schema
validator walking millions of items took minutes. The rules are the schema's (``x``: integers >= 0;
``y``: numbers or ``"NaN"``/``"Infinity"``/``"-Infinity"``) plus two the schema cannot say:

- x_never_decreases: a line's steps are in order (equal steps may repeat: the best point is inserted
  beside a kept point of the same step).
- best_index_points_into_the_line: ``best_index`` is ``null`` or an index of ``x``, and where the best
  point names this line's metric, ``x[best_index]`` is its step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["array_problems", "skeleton"]

_NONFINITE_TEXT = frozenset({"NaN", "Infinity", "-Infinity"})
_MAX_STEP = 2**63 - 1


def skeleton(obj: Any) -> Any:
    """A shallow copy of a JSON-form document with every line's ``x`` and ``y`` emptied (for the schema)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("charts"), list):
        return obj
    charts = []
    for chart in obj["charts"]:
        if isinstance(chart, dict) and isinstance(chart.get("lines"), list):
            lines = [
                {**line, "x": [], "y": []} if isinstance(line, dict) and "x" in line and "y" in line else line
                for line in chart["lines"]
            ]
            chart = {**chart, "lines": lines}
        charts.append(chart)
    return {**obj, "charts": charts}


def _x_problems(where: str, x: Any) -> list[str]:
    if not isinstance(x, list):
        return [f"at {where}/x: {type(x).__name__} is not of type 'array'"]
    if not set(map(type, x)) <= {int}:  # bool is a type of its own here, so it is refused
        bad = next(i for i, v in enumerate(x) if type(v) is not int)
        return [f"at {where}/x/{bad}: {x[bad]!r} is not of type 'integer'"]
    if x and (min(x) < 0 or max(x) > _MAX_STEP):
        bad = next(i for i, v in enumerate(x) if not 0 <= v <= _MAX_STEP)
        return [f"at {where}/x/{bad}: {x[bad]} is not a step (0 to {_MAX_STEP})"]
    steps = np.asarray(x, dtype=np.int64)
    back = np.flatnonzero(np.diff(steps) < 0)
    if back.size:
        i = int(back[0]) + 1
        return [f"at {where}/x/{i}: step {x[i]} comes after step {x[i - 1]}; steps must not decrease"]
    return []


def _y_problems(where: str, y: Any) -> list[str]:
    if not isinstance(y, list):
        return [f"at {where}/y: {type(y).__name__} is not of type 'array'"]
    types = set(map(type, y))
    if not types <= {int, float, str}:
        bad = next(i for i, v in enumerate(y) if type(v) not in (int, float, str))
        return [f"at {where}/y/{bad}: {y[bad]!r} is not a number"]
    if str in types:
        for i, v in enumerate(y):
            if type(v) is str and v not in _NONFINITE_TEXT:
                return [f"at {where}/y/{i}: {v!r} is not a number nor one of NaN, Infinity, -Infinity"]
    return []


def _best_index_problems(where: str, line: dict[str, Any], best: Any) -> list[str]:
    index, x = line.get("best_index"), line["x"]
    if index is None or type(index) is not int:
        return []  # the schema reports a wrong type
    if not 0 <= index < len(x):
        return [f"at {where}/best_index: {index} is not an index of the line's {len(x)} points"]
    point = best.get("values", {}).get(line.get("metric")) if isinstance(best, dict) else None
    step = point.get("step") if isinstance(point, dict) else None
    if type(step) is int and x[index] != step:
        return [f"at {where}/best_index: x[{index}] is step {x[index]}, but the best point is at step {step}"]
    return []


def array_problems(obj: dict[str, Any]) -> list[str]:
    """Every problem of the lines' ``x``/``y``/``best_index`` (the schema has checked the rest)."""
    problems: list[str] = []
    for c, chart in enumerate(obj.get("charts") or []):
        for i, line in enumerate(chart.get("lines") or [] if isinstance(chart, dict) else []):
            if not isinstance(line, dict) or "x" not in line or "y" not in line:
                continue
            where = f"/charts/{c}/lines/{i}"
            found = _x_problems(where, line["x"]) + _y_problems(where, line["y"])
            if not found and len(line["x"]) != len(line["y"]):
                found.append(f"Line {line.get('metric')!r} has {len(line['x'])} x values and "
                             f"{len(line['y'])} y values; they must pair up.")
            if not found:
                found = _best_index_problems(where, line, obj.get("best"))
            problems += found
    return problems

