"""Drawing a curves document to PNG (matplotlib, Agg): every chart, its lines and the best point."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from curvewatch._atomic import atomic_write

__all__ = ["save_png"]


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
        _draw_chart(ax, chart, best)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": "curvewatch"})
    return path


def _draw_chart(ax: Any, chart: dict[str, Any], best: dict[str, Any] | None) -> None:
    log_scale = chart["yscale"] == "log"
    for line in chart["lines"]:
        x = np.asarray(line["x"], dtype=float)
        y = np.asarray(line["y"], dtype=float)
        y_drawn = np.where(np.isfinite(y) & ((y > 0) | (not log_scale)), y, np.nan)
        (artist,) = ax.plot(x, y_drawn, linewidth=1.0, label=line["label"])
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
