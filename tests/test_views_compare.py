"""``curvewatch compare``: versions overlaid against step in one PNG, from SQLite, PostgreSQL and files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
from curvewatch.archive import ModelArchive, ModelKey
from curvewatch.views import COLORS, Sources, compare_png
from views_training import train_and_commit

KEY = ModelKey.product("P001", model_type="lin")
OTHER = ModelKey.store("S001", model_type="lin")


@pytest.fixture
def archive(tmp_path: Path, registry_db_url: str) -> ModelArchive:
    """Three real runs: two versions of one model (v2 diverges) and another model."""
    with ModelArchive(tmp_path / "saved_models", db_url=registry_db_url) as archive:
        train_and_commit(archive, KEY, steps=200)
        train_and_commit(archive, KEY, diverge_at=150, seed=1)
        train_and_commit(archive, OTHER, steps=120, lr=0.02, seed=2)
        yield archive


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "curvewatch", *args], capture_output=True, text=True, timeout=300)


def _has_color(png: Path, color: str) -> bool:
    image = matplotlib.image.imread(png)[..., :3]
    target = np.array(matplotlib.colors.to_rgb(color))
    return bool((np.abs(image - target).max(axis=-1) < 0.02).sum() > 30)


def test_every_requested_version_is_drawn(archive: ModelArchive, tmp_path: Path) -> None:
    out = tmp_path / "compare.png"
    specs = [f"{KEY.identifier}:1", f"{KEY.identifier}:2", OTHER.identifier]
    result = _cli("compare", *specs, "--metric", "val_loss", "--metric", "train_loss", "--root", str(archive.root),
                  "--db-url", archive.db_url, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "3 version(s), 2 metric(s) (val_loss, train_loss)" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for color in COLORS[:3]:  # each version's colour is in the picture
        assert _has_color(out, color), color
    assert not _has_color(out, COLORS[3])
    with Sources(archive.root, db_url=archive.db_url) as sources:
        loaded = [sources.load(s) for s in specs]
    drawn = compare_png(loaded, tmp_path / "again.png")
    labels = [f"{KEY.identifier}-v1", f"{KEY.identifier}-v2", f"{OTHER.identifier}-v1"]
    assert drawn == {"train_loss": labels, "val_loss": labels, "lr": labels}


def test_plain_files_and_registry_versions_mix(archive: ModelArchive, tmp_path: Path) -> None:
    curves = archive.get(KEY.identifier, 2).path / "curves.json"
    with Sources(archive.root, db_url=archive.db_url) as sources:
        loaded = [sources.load(str(curves)), sources.load(f"{KEY.identifier}:1")]
    assert compare_png(loaded, tmp_path / "mix.png", ["train_loss"]) == {
        "train_loss": [curves.as_posix(), f"{KEY.identifier}-v1"]}


def test_bad_specs_get_a_sentence_and_exit_2(archive: ModelArchive, tmp_path: Path) -> None:
    common = ["--root", str(archive.root), "--db-url", archive.db_url, "--out", str(tmp_path / "x.png")]
    cases = {(f"{KEY.identifier}:9",): "has no version 9",
             (f"{KEY.identifier}:two",): "must be a number or 'latest'",
             (KEY.identifier, "--metric", "nope"): "choose from train_loss, val_loss, lr",
             (str(tmp_path / "missing.json"),): "does not exist"}
    for args, message in cases.items():
        result = _cli("compare", *args, *common)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, args
    assert not (tmp_path / "x.png").exists()


def test_no_registry_is_explained(tmp_path: Path) -> None:
    result = _cli("compare", KEY.identifier, "--root", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "There is no registry at" in result.stderr
    assert not (tmp_path / "curvewatch_registry.sqlite3").exists()  # looking creates nothing
