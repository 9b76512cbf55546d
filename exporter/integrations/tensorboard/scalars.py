"""Every scalar of one run, per tag, with restarts resolved the way TensorBoard resolves them.

    run = RunScalars()
    for step, tag, value in reader.read():
        run.add(step, tag, value)
    run.restarts             # [Restart(tag, step, dropped), ...]
    for step, values in run.by_step():   # ascending steps; {tag: value} logged at each
        recorder.log(step, values)

A restart is a step at or below the last step already read for that tag (a resumed job re-logs
steps from its checkpoint): that tag's points from that step on are dropped and the new ones
follow, as TensorBoard's purge of orphaned data does, so every tag ends up increasing in step. Tags
are resolved independently (a tag logged per epoch beside one logged per batch never purges the
other), and :meth:`by_step` merges them in step order, so the recorder gets every tag of a step in one
``log()`` call. Memory: 16 bytes per scalar (an int64 step and a float64 value).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

__all__ = ["Restart", "RunScalars"]


class Restart(NamedTuple):
    tag: str
    step: int
    dropped: int  # points of the tag at steps >= step that the restart replaced


class RunScalars:
    """Per-tag ``(step, value)`` arrays of one run, each strictly increasing in step."""

    def __init__(self) -> None:
        self.steps: dict[str, array] = {}
        self.values: dict[str, array] = {}
        self.restarts: list[Restart] = []

    def add(self, step: int, tag: str, value: float) -> None:
        steps = self.steps.get(tag)
        if steps is None:
            steps = self.steps[tag] = array("q")
            self.values[tag] = array("d")
        elif steps and step <= steps[-1]:
            keep = int(np.searchsorted(np.frombuffer(steps, dtype=np.int64), step, side="left"))
            self.restarts.append(Restart(tag, step, len(steps) - keep))
            del steps[keep:]
            del self.values[tag][keep:]
        steps.append(step)
        self.values[tag].append(value)

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.steps.values())

    def tag_arrays(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        return (np.frombuffer(self.steps[tag], dtype=np.int64),
                np.frombuffer(self.values[tag], dtype=np.float64))

    def by_step(self) -> Iterator[tuple[int, dict[str, float]]]:
        """``(step, {tag: value})`` in ascending step order, every tag's value at that step."""
        tags = list(self.steps)
        if not tags:
            return
        steps = np.concatenate([self.tag_arrays(t)[0] for t in tags])
        values = np.concatenate([self.tag_arrays(t)[1] for t in tags])
        which = np.concatenate([np.full(len(self.steps[t]), i, dtype=np.int32) for i, t in enumerate(tags)])
        order = np.argsort(steps, kind="stable")
        steps, values, which = steps[order], values[order], which[order]
        bounds = np.flatnonzero(np.diff(steps)) + 1
        starts = [0, *bounds.tolist()]
        ends = [*bounds.tolist(), len(steps)]
        step_list, value_list, which_list = steps.tolist(), values.tolist(), which.tolist()
        for a, b in zip(starts, ends):
            yield step_list[a], {tags[which_list[i]]: value_list[i] for i in range(a, b)}
