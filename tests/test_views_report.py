"""``curvewatch report``: a self-contained page, opened in headless Chromium, from SQLite, PostgreSQL and a file."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from chromium_page import Chromium
from curvewatch.archive import ModelArchive, ModelKey
from curvewatch.views import LoadedCurves, figures, report_html
from views_training import train_and_commit

KEY = ModelKey.product("P001", model_type="lin")
READY = "document.body && document.body.dataset.rendered"
PLOTTED = """JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).map(
  g => ({traces: g.data.length, drawn: g.querySelectorAll('.scatterlayer .trace').length,
         title: g.layout.title.text})))"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "curvewatch", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def diverged(tmp_path: Path, registry_db_url: str) -> tuple[Path, str]:
    """An archive (SQLite or PostgreSQL registry): v1 a healthy run, v2 one whose loss overflowed to inf/NaN."""
    root = tmp_path / "saved_models"
    with ModelArchive(root, db_url=registry_db_url) as archive:
        train_and_commit(archive, KEY, steps=120)
        train_and_commit(archive, KEY, diverge_at=150, seed=1)
    return root, registry_db_url


def test_the_page_renders_every_chart_with_one_trace_per_line_in_chromium(diverged: tuple[Path, str],
                                                                          tmp_path: Path) -> None:
    root, url = diverged
    out = tmp_path / "report.html"
    result = _cli("report", f"{KEY.identifier}:2", "--root", str(root), "--db-url", url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((root / "product" / "P001_all" / "lin" / "v2" / "curves.json").read_text())
    with Chromium(tmp_path) as browser:
        page = browser.open(out, READY)
        plotted = json.loads(page.evaluate(PLOTTED))
        assert page.errors == []
        shot = page.screenshot()
    assert [p["title"] for p in plotted] == [c["title"] for c in doc["charts"]]
    lines = [len(c["lines"]) for c in doc["charts"]]
    assert [p["traces"] for p in plotted] == lines and [p["drawn"] for p in plotted] == lines
    image = matplotlib.image.imread(io.BytesIO(shot), format="png")
    assert image.shape[0] > 800 and image.shape[1] > 800
    assert np.unique(image.reshape(-1, image.shape[2])[::97], axis=0).shape[0] > 20  # not a blank page


def test_the_page_is_self_contained(diverged: tuple[Path, str], tmp_path: Path) -> None:
    root, url = diverged
    out = tmp_path / "report.html"
    result = _cli("report", f"{KEY.identifier}:1", "--root", str(root), "--db-url", url, "--out", str(out))
    assert result.returncode == 0 and "manifest intact" in result.stdout, result.stdout + result.stderr
    text = out.read_text()
    assert re.search(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=""", text) is None
    assert "plotly.js v" in text.lower() or "plotly" in text  # the library itself is inlined
    assert "Manifest: intact" in text and f"{KEY.identifier}-v1" in text


def test_metadata_and_manifest_problems_are_shown(diverged: tuple[Path, str], tmp_path: Path) -> None:
    root, url = diverged
    version = root / "product" / "P001_all" / "lin" / "v1"
    (version / "metadata.json").write_text("{}")  # tampered: the manifest no longer matches
    out = tmp_path / "report.html"
    result = _cli("report", f"{KEY.identifier}:1", "--root", str(root), "--db-url", url, "--out", str(out))
    assert result.returncode == 0 and "manifest PROBLEMS" in result.stdout
    text = out.read_text()
    assert "problem(s)" in text and "metadata.json" in text and "val_loss (min)" in text


def test_a_plain_curves_file_gets_a_report_too(diverged: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = diverged
    curves = root / "product" / "P001_all" / "lin" / "v1" / "curves.json"
    out = tmp_path / "plain.html"
    result = _cli("report", str(curves), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Manifest: not checked" in out.read_text()


def test_outliers_are_marked_at_the_edge_and_nonfinite_values_are_gaps() -> None:
    y = [1.0, 0.8, 0.6, 0.5, 0.4, 0.35, 0.3, 0.28, 0.27, 1e28, "NaN"]
    doc = {"charts": [{"name": "loss", "title": "Loss", "xlabel": "step", "ylabel": "loss", "yscale": "log",
                       "lines": [{"metric": "loss", "label": "train", "x": list(range(11)),
                                  "y": [float(v) for v in y], "best_index": 8, "points_logged": 11,
                                  "nonfinite_count": 1, "first_nonfinite": {"step": 10, "value": "NaN"}}]}],
           "best": {"metric": "loss", "mode": "min", "step": 8, "value": 0.27, "values": {}},
           "steps_total": 11, "last_step": 10, "budget": 100}
    (fig,) = figures(doc)
    assert fig["data"][0]["y"][9] == 1e28 and fig["data"][0]["y"][10] is None  # kept; NaN is a gap
    low, high = fig["layout"]["yaxis"]["range"]
    assert high < 1 and low < np.log10(0.27)  # 1e28 does not flatten the curve; the best point is inside
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert "▲ 1e+28" in texts and any(t.startswith("★ best min 0.27") for t in texts)
    assert fig["layout"]["shapes"][0]["x0"] == 10
    html = report_html(LoadedCurves("x", doc))
    assert "</script>" not in html.split('id="curvewatch-figures">')[1].split("</script>")[0]
