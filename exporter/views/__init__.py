"""Views of archived curves: overlay versions in a PNG (``compare``), one interactive HTML page (``report``).

They read what the archive wrote (the stored curves documents, from the registry or a curves.json file) and
never re-derive curves. The Grafana side of the same idea is the registry's SQL read model
(``curvewatch.archive.read_model``) and the generated archive dashboards.

>>> from curvewatch.views import Sources, compare_png, write_report
>>> with Sources(root="saved_models") as s:
...     compare_png([s.load("product_P001_all_mlstm:1"), s.load("product_P001_all_mlstm:2")], "compare.png")
...     write_report(s.load("product_P001_all_mlstm"), "report.html")
"""

from curvewatch._yrange import YRange, robust_y_range

from .compare import COLORS, compare_png, metrics_of
from .report import figures, report_html, write_report
from .source import LoadedCurves, Sources, ViewError

__all__ = [
    "COLORS",
    "LoadedCurves",
    "Sources",
    "ViewError",
    "YRange",
    "compare_png",
    "figures",
    "metrics_of",
    "report_html",
    "robust_y_range",
    "write_report",
]
