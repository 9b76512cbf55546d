"""``report``: one self-contained, interactive HTML page for a version (plotly.js inlined: works offline).

>>> with Sources(root="saved_models") as s:
...     write_report(s.load("product_P001_all_mlstm:3"), "report.html")

Guarantees (tests named after them in tests/test_views_report.py, the page opened in headless Chromium):
- the_page_is_self_contained: no ``src=``/``href=`` to another file or host; plotly.js is in the page.
- one_trace_per_line: each chart is one plotly chart with exactly one trace per line of the document
  (best point, outliers and the first non-finite value are annotations and shapes, not traces).
- the best point is annotated; the y range is robust (``curvewatch._yrange``) and every value outside it is
  marked at the edge with its value; non-finite values are gaps, the first one a dashed vertical line.
- metadata and the manifest check (``curvewatch versions verify``) are shown above the charts.
- spike_markers: each spike event the run's live detector archived (``signals.spikes`` in the version's
  metadata.json, see docs/signals.md) is a dotted vertical line in its line's colour, labelled with its size.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from curvewatch._atomic import atomic_write_text
from curvewatch._yrange import YRange, robust_y_range

from ._spikes import archived_spikes
from .compare import COLORS
from .source import LoadedCurves, ViewError

__all__ = ["MAX_OUTLIER_LABELS", "figures", "report_html", "write_report"]

MAX_OUTLIER_LABELS = 5  # per line and edge; every outlier is still marked
_META_FIELDS = ("identifier", "version", "model_type", "status", "created_at", "model_path", "registry", "path",
                "manifest_sha256")


def _finite_or_none(y: np.ndarray, log: bool) -> list[float | None]:
    ok = np.isfinite(y) & ((y > 0) | (not log))
    return [float(v) if k else None for v, k in zip(y.tolist(), ok.tolist())]


def _edge_marks(x: np.ndarray, y: np.ndarray, yrange: YRange, color: str) -> list[dict[str, Any]]:
    outside = yrange.outside(y)
    marks = []
    for side, edge, arrow in ((y > yrange.high, 1, "▲"), (y < yrange.low, 0, "▼")):
        idx = np.flatnonzero(outside & side)
        order = idx[np.argsort(-y[idx] if edge else y[idx], kind="stable")]
        for rank, i in enumerate(order):
            text = f"{arrow} {y[i]:.3g}" if rank < MAX_OUTLIER_LABELS else arrow
            marks.append({"x": float(x[i]), "y": edge, "xref": "x", "yref": "paper", "text": text,
                          "showarrow": False, "font": {"size": 10, "color": color},
                          "yanchor": "top" if edge else "bottom", "xanchor": "left",
                          # labelled ones stacked away from the edge so that nearby ones stay readable
                          "yshift": (-12 if edge else 12) * min(rank, MAX_OUTLIER_LABELS)})
    return marks


def _spike_marks(events: list[Any], color: str, label: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes and labels of one line's archived spike events ``[(step, size), ...]``."""
    shapes, annotations = [], []
    for rank, (step, size) in enumerate(events):
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": step, "x1": step, "y0": 0, "y1": 1,
                       "line": {"color": color, "dash": "dot", "width": 1}})
        annotations.append({"x": step, "y": 1, "xref": "x", "yref": "paper", "showarrow": False, "yanchor": "bottom",
                            "text": f"spike {html.escape(label)} x{size:.3g}" if rank < MAX_OUTLIER_LABELS else "spike",
                            "font": {"size": 9, "color": color}})
    return shapes, annotations


def figures(doc: dict[str, Any], spikes: dict[str, list[Any]] | None = None) -> list[dict[str, Any]]:
    """One plotly figure (``data``, ``layout``) per chart of a decoded document; ``spikes``: metric ->
    archived spike events ``[(step, size), ...]``, marked on their line's chart."""
    best = doc.get("best")
    spikes = spikes or {}
    out = []
    for chart in doc["charts"]:
        log = chart["yscale"] == "log"
        data, annotations, shapes, series, keep = [], [], [], [], []
        for n, line in enumerate(chart["lines"]):
            color = COLORS[n % len(COLORS)]
            x = np.asarray(line["x"], dtype=float)
            y = np.asarray(line["y"], dtype=float)
            data.append({"type": "scatter", "mode": "lines", "name": line["label"], "x": line["x"],
                         "y": _finite_or_none(y, log), "line": {"color": color, "width": 1.5},
                         "hovertemplate": "step %{x}<br>%{y:.6g}<extra>" + html.escape(line["label"]) + "</extra>"})
            series.append((x, y, color))
            marks = _spike_marks(spikes.get(line["metric"], []), color, line["label"])
            shapes += marks[0]
            annotations += marks[1]
            bi = line["best_index"]
            if best is not None and bi is not None and math.isfinite(y[bi]):
                annotations.append({"x": float(x[bi]), "y": math.log10(y[bi]) if log and y[bi] > 0 else float(y[bi]),
                                    "text": (f"★ best {best['mode']} {y[bi]:.4g} @ {int(x[bi])}"
                                             if line["metric"] == best["metric"]
                                             else f"★ {y[bi]:.4g} at the best {best['metric']}"),
                                    "showarrow": True, "arrowhead": 2, "ax": 30, "ay": -30 - 18 * len(keep),
                                    "font": {"size": 11, "color": color}, "arrowcolor": color})
                keep.append(y[bi])
            nf = line["first_nonfinite"]
            if nf is not None:
                shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": nf["step"], "x1": nf["step"],
                               "y0": 0, "y1": 1, "line": {"color": "red", "dash": "dash", "width": 1}})
                annotations.append({"x": nf["step"], "y": 0.5, "xref": "x", "yref": "paper", "showarrow": False,
                                    "text": f"{html.escape(line['label'])}: {nf['value']} @ {nf['step']}",
                                    "textangle": -90, "font": {"size": 10, "color": "red"}})
        yaxis: dict[str, Any] = {"title": {"text": chart["ylabel"]}, "type": "log" if log else "linear"}
        yrange = robust_y_range([y for _, y, _ in series], log=log, keep=keep)
        if yrange is not None and yrange.high > yrange.low:
            yaxis["range"] = ([math.log10(yrange.low), math.log10(yrange.high)] if log
                              else [yrange.low, yrange.high])
            for x, y, color in series:
                annotations += _edge_marks(x, y, yrange, color)
        out.append({"data": data, "layout": {
            "title": {"text": chart["title"]}, "xaxis": {"title": {"text": chart["xlabel"]}}, "yaxis": yaxis,
            "annotations": annotations, "shapes": shapes, "height": 420, "margin": {"t": 50, "r": 20},
            "legend": {"orientation": "h"}}})
    return out


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise ViewError("The report needs plotly: pip install 'curvewatch[report]'.") from exc
    return get_plotlyjs()


def _meta_rows(loaded: LoadedCurves) -> list[tuple[str, str]]:
    doc, meta = loaded.doc, loaded.metadata
    rows = [(k, str(meta[k])) for k in _META_FIELDS if meta.get(k) is not None]
    rows += [("steps", f"{doc['steps_total']} logged, last step {doc['last_step']}, budget {doc['budget']}/line")]
    best = doc.get("best")
    if best:
        rows.append(("best", f"{best['metric']} ({best['mode']}) = {best['value']:.6g} at step {best['step']}"))
    for name, value in sorted((meta.get("metrics_summary") or {}).items()):
        rows.append((f"summary: {name}", f"{value:.6g}" if isinstance(value, float) else str(value)))
    return rows


def _manifest_html(problems: list[str] | None) -> str:
    if problems is None:
        return '<p class="manifest unknown">Manifest: not checked (a plain curves file, not an archived version).</p>'
    if not problems:
        return '<p class="manifest ok">Manifest: intact (every file matches manifest.json; the row matches).</p>'
    items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
    return f'<div class="manifest bad"><p>Manifest: {len(problems)} problem(s)</p><ul>{items}</ul></div>'


def report_html(loaded: LoadedCurves) -> str:
    """The page's HTML text."""
    figs = figures(loaded.doc, archived_spikes(loaded))
    payload = json.dumps({"figures": figs}, allow_nan=False).replace("</", "<\\/")
    meta = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _meta_rows(loaded))
    charts = "".join(f'<div class="chart" id="chart-{i}"></div>' for i in range(len(figs))) or "<p>No lines.</p>"
    title = html.escape(f"curvewatch report: {loaded.label}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse}}
th,td{{text-align:left;padding:2px 10px;border-bottom:1px solid #ddd}} .ok{{color:#1a7f37}} .bad{{color:#c00}}
.chart{{max-width:1100px}}</style>
<script>{_plotly_js()}</script></head>
<body><h1>{title}</h1><table class="meta">{meta}</table>{_manifest_html(loaded.problems)}
{charts}
<script type="application/json" id="curvewatch-figures">{payload}</script>
<script>
const figs = JSON.parse(document.getElementById("curvewatch-figures").textContent).figures;
Promise.all(figs.map((f, i) => Plotly.newPlot("chart-" + i, f.data, f.layout,
  {{responsive: true, displaylogo: false}}))).then(() => {{ document.body.dataset.rendered = String(figs.length); }});
</script></body></html>
"""


def write_report(loaded: LoadedCurves, out: str | Path) -> Path:
    """Write the report page of one version; returns its path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, report_html(loaded))
    return path
