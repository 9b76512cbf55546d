"""Drawing a curves document to PNG (matplotlib, Agg): every chart, its lines and the best point.

The y range is robust (``curvewatch._yrange``): a divergence to 1e28 or one huge spike does not flatten
the rest of the curve; each value outside the range is marked at the edge (a triangle) and the most
extreme ones carry their value, so nothing is dropped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from curvewatch._atomic import atomic_write
from curvewatch._yrange import YRange, robust_y_range

__all__ = ["MAX_OUTLIER_LABELS", "apply_robust_range", "draw_chart", "mark_outliers", "save_png"]

MAX_OUTLIER_LABELS = 3  # per line and edge: the most extreme outliers carry their value; all get a marker


def save_png(doc: dict[str, Any], path: str | Path, *, dpi: int = 100) -> Path:
    """Write one subplot per chart; the best point is a star, the first non-finite value a red line."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    charts = doc["charts"]
    n = max(1, len(charts))
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(7 * cols, 3.6 * rows))
    # fixed margins: constrained layout and legend placement "best" cost seconds per PNG
    w, h = 7.0 * cols, 3.6 * rows  # margins in inches, as fractions of the figure
    fig.subplots_adjust(left=0.9 / w, right=1 - 0.25 / w, bottom=0.6 / h, top=1 - 0.4 / h, wspace=0.22, hspace=0.42)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(charts):]:
        ax.set_axis_off()
    if not charts:
        axes[0].text(0.5, 0.5, "no metrics logged", ha="center", va="center")
    best = doc.get("best")
    for ax, chart in zip(axes, charts):
        draw_chart(ax, chart, best)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": "curvewatch"})
    return path


def draw_chart(ax: Any, chart: dict[str, Any], best: dict[str, Any] | None) -> YRange | None:
    """Draw one chart of a (decoded) document on ``ax``; returns the robust y range it set."""
    log_scale = chart["yscale"] == "log"
    drawn = []
    for line in chart["lines"]:
        x = np.asarray(line["x"], dtype=float)
        y = np.asarray(line["y"], dtype=float)
        y_drawn = np.where(np.isfinite(y) & ((y > 0) | (not log_scale)), y, np.nan)
        (artist,) = ax.plot(x, y_drawn, linewidth=1.0, label=line["label"])
        drawn.append((x, y, artist.get_color()))
        bi = line["best_index"]
        if best is not None and bi is not None and math.isfinite(y[bi]):
            is_tracked = line["metric"] == best["metric"]
            ax.plot([x[bi]], [y[bi]], marker="*", markersize=14 if is_tracked else 9, color=artist.get_color(),
                    markeredgecolor="black", linestyle="none", zorder=5)
            if is_tracked:
                ax.annotate(f"best {best['mode']} {y[bi]:.4g} @ {int(x[bi])}", (x[bi], y[bi]),
                            textcoords="offset points", xytext=(6, 8), fontsize=8)
        nf = line["first_nonfinite"]
        if nf is not None:
            ax.axvline(nf["step"], color="red", linestyle="--", linewidth=0.8)
            ax.annotate(f"{line['label']}: {nf['value']} @ {nf['step']}", (nf["step"], 1.0),
                        xycoords=("data", "axes fraction"), va="top", fontsize=7, color="red")
    if log_scale:
        ax.set_yscale("log")
    elif chart["yscale"] == "symlog":
        ax.set_yscale("symlog")
    ax.set_title(chart["title"])
    ax.set_xlabel(chart["xlabel"])
    ax.set_ylabel(chart["ylabel"])
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    keep = [y[ln["best_index"]] for (_, y, _), ln in zip(drawn, chart["lines"]) if ln["best_index"] is not None]
    return apply_robust_range(ax, drawn, log=log_scale, keep=keep)


def apply_robust_range(ax: Any, series: list[tuple[np.ndarray, np.ndarray, Any]], *, log: bool,
                       keep: list[float]) -> YRange | None:
    """Set the robust y range of ``series`` (x, y, colour) on ``ax`` and mark every value outside it."""
    yrange = robust_y_range([y for _, y, _ in series], log=log, keep=keep)
    if yrange is not None:
        if yrange.high > yrange.low:
            ax.set_ylim(yrange.low, yrange.high)
        for x, y, color in series:
            mark_outliers(ax, x, y, yrange, color)
    return yrange


def mark_outliers(ax: Any, x: np.ndarray, y: np.ndarray, yrange: YRange, color: Any) -> int:
    """Mark every finite value outside ``yrange`` at the top or bottom edge; label the most extreme ones.

    Returns the number of values marked."""
    outside = yrange.outside(y)
    edge_transform = ax.get_xaxis_transform()  # x in data units, y in axes fraction (0 bottom, 1 top)
    for side, edge, marker, offset in ((y > yrange.high, 1.0, "^", -11), (y < yrange.low, 0.0, "v", 4)):
        idx = np.flatnonzero(outside & side)
        if idx.size == 0:
            continue
        ax.plot(x[idx], np.full(idx.size, edge), marker=marker, markersize=6, linestyle="none", color=color,
                markeredgecolor="black", transform=edge_transform, clip_on=False, zorder=6)
        order = idx[np.argsort(-y[idx] if edge else y[idx], kind="stable")]
        stagger = -9 if edge else 9  # labels of nearby outliers stacked, not drawn over each other
        for rank, i in enumerate(order[:MAX_OUTLIER_LABELS]):
            ax.annotate(f"{y[i]:.3g}", (x[i], edge), xycoords=edge_transform, textcoords="offset points",
                        xytext=(4, offset + rank * stagger), fontsize=7, color=color)
        if idx.size > MAX_OUTLIER_LABELS:
            ax.annotate(f"+{idx.size - MAX_OUTLIER_LABELS} more off-scale", (1.0, edge), xycoords="axes fraction",
                        textcoords="offset points", xytext=(-4, offset), ha="right", fontsize=7, color=color)
    return int(outside.sum())
