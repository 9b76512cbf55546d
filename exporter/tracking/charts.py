"""Which chart a tracked metric is drawn in: the user's declared charts, else one chart per metric family.

    Chart("loss", ["train_loss", "val_loss"], title="Cross-entropy", ylabel="nats", yscale="log")

Automatic families (``FAMILIES``), decided from the metric's name split at ``_``, ``-``, ``.`` and ``/``:
a ``loss`` word -> chart ``loss`` ("Loss"); ``acc``/``accuracy`` -> chart ``accuracy`` ("Accuracy");
``lr``/``learning_rate`` -> chart ``lr`` ("Learning rate", log scale). Any other metric gets a chart of
its own, titled with its name. A metric keeps its chart for the whole run (the ``chart`` label of its
live series never changes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAMILIES", "Chart", "ChartPlanner", "family_of"]


@dataclass(frozen=True)
class Family:
    """An automatic chart: the words that put a metric in it, its title, y label and y scale."""

    chart: str
    words: frozenset[str]
    title: str
    ylabel: str
    yscale: str = "linear"


FAMILIES = (
    Family("loss", frozenset({"loss"}), "Loss", "loss"),
    Family("accuracy", frozenset({"acc", "accuracy"}), "Accuracy", "accuracy"),
    Family("lr", frozenset({"lr", "learning_rate"}), "Learning rate", "lr", "log"),
)
_WORDS = re.compile(r"[_\-./]")


def family_of(metric: str) -> Family | None:
    """The automatic family of ``metric`` (``val_loss`` -> loss, ``top1_acc`` -> accuracy), or None."""
    words = set(_WORDS.split(metric.lower()))
    if "learning_rate" in metric.lower():
        words.add("learning_rate")
    return next((f for f in FAMILIES if f.words & words), None)


@dataclass(frozen=True)
class Chart:
    """A chart the user declares: its lines (metric names), title, y label, y scale and line labels."""

    name: str
    metrics: tuple[str, ...]
    title: str | None = None
    ylabel: str | None = None
    yscale: str = "linear"
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        metrics = (self.metrics,) if isinstance(self.metrics, str) else tuple(self.metrics)
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "labels", dict(self.labels))

    @classmethod
    def coerce(cls, value: Chart | Mapping[str, Any]) -> Chart:
        """A ``Chart`` from itself or from a dict with the same keys; a sentence for anything else."""
        if isinstance(value, Chart):
            return value
        if isinstance(value, Mapping):
            try:
                return cls(**value)
            except TypeError as exc:
                raise ValueError(f"A chart dict takes name, metrics, title, ylabel, yscale and labels ({exc}).") \
                    from None
        raise ValueError(f"charts= takes Chart(...) objects or dicts, got {type(value).__name__}.")


class ChartPlanner:
    """Declares the user's charts on a recorder, then places each new metric in its family's chart."""

    def __init__(self, recorder: Any, charts: Iterable[Chart | Mapping[str, Any]] | None = None) -> None:
        self.recorder = recorder
        self.declared: dict[str, str] = {}  # metric -> user chart
        self.user_charts: set[str] = set()
        self.family_charts: set[str] = set()
        self.seen: set[str] = set()
        for chart in map(Chart.coerce, charts or ()):
            recorder.chart(chart.name, list(chart.metrics), title=chart.title, ylabel=chart.ylabel,
                           yscale=chart.yscale, labels=dict(chart.labels))
            self.user_charts.add(chart.name)
            self.declared.update(dict.fromkeys(chart.metrics, chart.name))

    def user_chart_metrics(self) -> dict[str, list[str]]:
        """The user's charts and the metrics each names."""
        charts: dict[str, list[str]] = {}
        for metric, chart in self.declared.items():
            charts.setdefault(chart, []).append(metric)
        return charts

    def restored(self, metrics: Iterable[str]) -> None:
        """Take the metrics and family charts of a recorder restored by ``load_state_dict`` as placed."""
        self.seen.update(metrics)
        declared = set(self.recorder.charts.specs)
        self.family_charts.update(f.chart for f in FAMILIES if f.chart in declared and f.chart not in self.user_charts)

    def observe(self, metrics: Iterable[str]) -> None:
        """Place the metrics not seen before (call before logging them; cheap when none is new)."""
        for metric in metrics:
            if metric in self.seen:
                continue
            self.seen.add(metric)
            family = None if metric in self.declared else family_of(metric)
            if family is None or family.chart in self.user_charts:
                continue  # the user's chart, or a chart of its own
            if family.chart in self.family_charts:
                self.recorder.add_to_chart(family.chart, metric)
            else:
                self.recorder.chart(family.chart, [metric], title=family.title, ylabel=family.ylabel,
                                    yscale=family.yscale)
                self.family_charts.add(family.chart)
