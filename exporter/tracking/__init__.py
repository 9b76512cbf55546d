"""Tracking a training loop you wrote yourself: ``RunTracker`` records its curves, serves them live, saves
checkpoints and commits one archive version per run (one under torchrun too)."""

from .charts import FAMILIES, Chart, family_of
from .tracker import RunTracker

__all__ = ["FAMILIES", "Chart", "RunTracker", "family_of"]
