"""Which chart each line belongs to, and each chart's plot metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import RecorderError

__all__ = ["ChartSpec", "Charts", "YSCALES"]

YSCALES = ("linear", "log", "symlog")


@dataclass
class ChartSpec:
    """A chart: several lines (one per metric) with a title, axis labels and a y scale."""

    name: str
    metrics: list[str]
    title: str
    xlabel: str = "step"
    ylabel: str = ""
    yscale: str = "linear"
    labels: dict[str, str] = field(default_factory=dict)
    declared: bool = True


class Charts:
    """Declared charts in declaration order; an undeclared metric gets a chart of its own."""

    def __init__(self) -> None:
        self.specs: dict[str, ChartSpec] = {}
        self.owner: dict[str, str] = {}  # metric -> chart name

    def declare(self, name: str, metrics: list[str], *, title: str | None, xlabel: str, ylabel: str | None,
                yscale: str, labels: dict[str, str]) -> None:
        if not isinstance(name, str) or not name:
            raise RecorderError(f"A chart name must be a non-empty string, got {name!r}.")
        if yscale not in YSCALES:
            raise RecorderError(f"`yscale` can be {', '.join(YSCALES)}, got {yscale!r}.")
        if name in self.specs and self.specs[name].declared:
            raise RecorderError(f"Chart {name!r} is already declared; declare each chart once.")
        for metric in metrics:
            other = self.owner.get(metric)
            if other is not None and other != name and self.specs[other].declared:
                raise RecorderError(f"Metric {metric!r} is already drawn in chart {other!r}; a line "
                                    "belongs to one chart.")
        unknown = set(labels) - set(metrics)
        if unknown:
            raise RecorderError(f"labels name metrics not in chart {name!r}: {', '.join(sorted(unknown))}.")
        for metric in metrics:  # a metric logged before its chart was declared moves into it
            auto = self.owner.get(metric)
            if auto is not None and auto != name:
                del self.specs[auto]
            self.owner[metric] = name
        replaced = self.specs.get(name)  # an automatic chart that happens to have this name
        displaced = [m for m in replaced.metrics if m not in metrics] if replaced is not None else []
        for metric in displaced:
            del self.owner[metric]
        self.specs[name] = ChartSpec(name, list(metrics), title if title is not None else name, xlabel,
                                     ylabel or "", yscale, dict(labels))
        for metric in displaced:  # it keeps a chart of its own, under another name
            self.place(metric)

    def add(self, name: str, metric: str, label: str | None = None) -> None:
        """Add ``metric`` to the declared chart ``name`` (a metric drawn alone so far moves into it)."""
        spec = self.specs.get(name)
        if spec is None or not spec.declared:
            raise RecorderError(f"Chart {name!r} is not declared; declare it with chart() before adding to it.")
        other = self.owner.get(metric)
        if other == name:
            return
        if other is not None and self.specs[other].declared:
            raise RecorderError(f"Metric {metric!r} is already drawn in chart {other!r}; a line belongs to one chart.")
        if other is not None:
            del self.specs[other]
        spec.metrics.append(metric)
        if label is not None:
            spec.labels[metric] = label
        self.owner[metric] = name

    def place(self, metric: str) -> str:
        """The chart of ``metric``, creating a chart of its own when none was declared."""
        chart = self.owner.get(metric)
        if chart is None:
            name = metric
            while name in self.specs:
                name += "_"
            self.specs[name] = ChartSpec(name, [metric], metric, declared=False)
            self.owner[metric] = chart = name
        return chart

    def label(self, metric: str) -> str:
        return self.specs[self.owner[metric]].labels.get(metric, metric)

    def state_dict(self) -> list[dict[str, Any]]:
        return [asdict(spec) for spec in self.specs.values()]

    def load_state_dict(self, state: list[dict[str, Any]]) -> None:
        self.specs = {s["name"]: ChartSpec(**s) for s in state}
        self.owner = {m: spec.name for spec in self.specs.values() for m in spec.metrics}
