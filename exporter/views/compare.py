"""``compare``: several versions' curves overlaid against step in one PNG, one panel per metric.

>>> with Sources(root="saved_models") as s:
...     compare_png([s.load("product_P001_all_mlstm:1"), s.load("product_P001_all_mlstm:2")], "compare.png")

Guarantees (tests named after them in tests/test_views_compare.py):
- every_requested_version_is_drawn: each version gets its own colour and a legend entry in every panel
  (marked "(no such metric)" where it lacks the metric); the best point is a star, the first non-finite
  value a dashed line in the version's colour.
- log scale where the chart is: a metric's panel uses the y scale of the chart that holds it.
- the y range is robust (``curvewatch._yrange``); values outside it are marked at the edge with their value.
- spike_markers_in_the_png: each spike event a version's live detector archived (metadata.json ``signals``)
  is a dotted vertical line in the version's colour (tested in tests/test_signals_report.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from curvewatch._atomic import atomic_write

from ._spikes import archived_spikes
from .source import LoadedCurves, ViewError

__all__ = ["COLORS", "compare_png", "metrics_of"]

# one colour per version (matplotlib's tab10), in the order the versions are given
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf")


def metrics_of(doc: dict[str, Any]) -> list[str]:
    """Every line's metric in the document, in chart order."""
    return [line["metric"] for chart in doc["charts"] for line in chart["lines"]]


def _find(doc: dict[str, Any], metric: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for chart in doc["charts"]:
        for line in chart["lines"]:
            if line["metric"] == metric:
                return chart, line
    return None


def compare_png(versions: list[LoadedCurves], out: str | Path, metrics: list[str] | None = None,
                *, dpi: int = 100) -> dict[str, list[str]]:
    """Write the overlay PNG; returns metric -> labels of the versions drawn in its panel."""
    if not versions:
        raise ViewError("Give at least one version to compare.")
    if len(versions) > len(COLORS):
        raise ViewError(f"Compare at most {len(COLORS)} versions at once; got {len(versions)}.")
    available = list(dict.fromkeys(m for v in versions for m in metrics_of(v.doc)))
    chosen = list(dict.fromkeys(metrics)) if metrics else available
    unknown = [m for m in chosen if m not in available]
    if unknown:
        raise ViewError(f"No version has the metric {', '.join(map(repr, unknown))}; choose from "
                        f"{', '.join(available) or 'none (the documents have no lines)'}.")
    if not chosen:
        raise ViewError("The documents have no lines to compare.")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    cols = 1 if len(chosen) == 1 else 2
    rows = math.ceil(len(chosen) / cols)
    w, h = 7.0 * cols, 3.8 * rows
    fig = Figure(figsize=(w, h))
    fig.subplots_adjust(left=0.9 / w, right=1 - 0.25 / w, bottom=0.6 / h, top=1 - 0.45 / h, wspace=0.22,
                        hspace=0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(chosen):]:
        ax.set_axis_off()
    drawn = {metric: _panel(ax, metric, versions) for ax, metric in zip(axes, chosen)}
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": "curvewatch"})
    return drawn


def _panel(ax: Any, metric: str, versions: list[LoadedCurves]) -> list[str]:
    from curvewatch.recorder.plot import apply_robust_range

    yscale, ylabel, series, keep, labels = None, metric, [], [], []
    for color, version in zip(COLORS, versions):
        found = _find(version.doc, metric)
        if found is None:
            ax.plot([], [], color=color, label=f"{version.label} (no such metric)")
            continue
        chart, line = found
        yscale = yscale or chart["yscale"]
        ylabel = chart["ylabel"] or metric
        x = np.asarray(line["x"], dtype=float)
        y = np.asarray(line["y"], dtype=float)
        log = yscale == "log"
        ax.plot(x, np.where(np.isfinite(y) & ((y > 0) | (not log)), y, np.nan), color=color, linewidth=1.0,
                label=version.label)
        labels.append(version.label)
        series.append((x, y, color))
        bi = line["best_index"]
        if bi is not None and math.isfinite(y[bi]):
            keep.append(y[bi])
            ax.plot([x[bi]], [y[bi]], marker="*", markersize=12, color=color, markeredgecolor="black",
                    linestyle="none", zorder=5)
        if line["first_nonfinite"] is not None:
            ax.axvline(line["first_nonfinite"]["step"], color=color, linestyle="--", linewidth=0.8)
        for step, _size in archived_spikes(version).get(metric, []):  # the live detector's events
            ax.axvline(step, color=color, linestyle=":", linewidth=0.8)
    log = yscale == "log"
    if log:
        ax.set_yscale("log")
    elif yscale == "symlog":
        ax.set_yscale("symlog")
    apply_robust_range(ax, series, log=log, keep=keep)
    ax.set_title(metric)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    return labels
