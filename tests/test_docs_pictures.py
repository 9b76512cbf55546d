"""The README's pictures are what scripts/docs_pictures.py draws with curvewatch's own code, and still match.

Regenerated into a temp dir (the demo run, the recorder's PNG, the report page in headless chromium) and
compared pixel by pixel with the committed ones: same size, not blank, and at most ``MAX_MEAN_DIFF`` mean
difference. The bound leaves room for another font rasteriser and for a recorder change that moves a few
kept points (measured: 0.005 for the curve and 0.015 for the report page after one such change); an
unrelated picture of the same size differs by about 0.09.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_MEAN_DIFF = 0.04  # mean |difference| per channel, on 0..1


def _generator():
    spec = importlib.util.spec_from_file_location("docs_pictures", REPO / "scripts" / "docs_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pictures")
    assert _generator().main(["--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("name", ["curve.png", "report.png"])
def test_committed_picture_matches_what_the_generator_draws(drawn: Path, name: str) -> None:
    new, committed = mpimg.imread(drawn / name), mpimg.imread(REPO / "docs" / "images" / name)
    assert new.shape == committed.shape, f"{name}: {new.shape} drawn, {committed.shape} committed"
    assert float(new[..., :3].std()) > 0.05, f"{name} is blank"
    diff = np.abs(new.astype(float) - committed.astype(float))
    assert diff.mean() <= MAX_MEAN_DIFF, (
        f"docs/images/{name} is stale: run `.venv/bin/python scripts/docs_pictures.py` and commit it")


def test_readme_shows_both_pictures() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "](docs/images/curve.png)" in readme and "](docs/images/report.png)" in readme
