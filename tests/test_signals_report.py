"""Spike events reach the archive (metadata.json ``signals``) and the HTML report marks them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from curvewatch.views import Sources
from curvewatch.views.report import figures, report_html


def _spiky_version(root: Path) -> str:
    import curvewatch

    rng = np.random.default_rng(3)
    with curvewatch.RunTracker("spiky-report", root=root, db_url=f"sqlite:///{root}/r.db", serve=False,
                               best="val_loss") as run:
        for step in range(1, 3001):
            loss = (0.3 + np.exp(-step / 800)) * (1 + 0.02 * rng.standard_normal())
            run.log(train_loss=loss * (6.0 if step in (1200, 2400) else 1.0), lr=0.01)
        run.epoch_end(1, val_loss=0.5)
        record = run.finish({"w": torch.zeros(1)})
    return f"{record.identifier}:{record.version}"


def test_spike_markers(tmp_path: Path) -> None:
    spec = _spiky_version(tmp_path)
    with Sources(root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db") as sources:
        loaded = sources.load(spec)
    meta = json.loads((Path(loaded.metadata["path"]) / "metadata.json").read_text())
    events = meta["signals"]["spikes"]["train_loss"]
    assert [step for step, _ in events] == [1200, 2400] and all(5 < size < 7.5 for _, size in events)
    assert "lr" not in meta["signals"]["spikes"] and meta["signals"]["grad_norm"] is None
    page = report_html(loaded)
    figs = json.loads(page.split('id="curvewatch-figures">')[1].split("</script>")[0])["figures"]
    loss_chart = next(f for f in figs if any(t["name"] == "train_loss" for t in f["data"]))
    marked = [s["x0"] for s in loss_chart["layout"]["shapes"] if s["line"].get("dash") == "dot"]
    assert marked == [1200, 2400]
    assert sum(a["text"].startswith("spike train_loss x") for a in loss_chart["layout"]["annotations"]) == 2


def test_spike_markers_in_the_png(tmp_path: Path) -> None:
    import dataclasses

    from curvewatch.views import compare_png
    from curvewatch.views._spikes import archived_spikes

    spec = _spiky_version(tmp_path)
    with Sources(root=tmp_path, db_url=f"sqlite:///{tmp_path}/r.db") as sources:
        loaded = sources.load(spec)
    bare = dataclasses.replace(loaded, metadata={k: v for k, v in loaded.metadata.items() if k != "path"})
    assert [s for s, _ in archived_spikes(loaded)["train_loss"]] == [1200, 2400] and archived_spikes(bare) == {}
    marked = compare_png([loaded], tmp_path / "marked.png", ["train_loss"])
    plain = compare_png([bare], tmp_path / "plain.png", ["train_loss"])
    assert marked == plain == {"train_loss": [loaded.label]}
    assert (tmp_path / "marked.png").read_bytes() != (tmp_path / "plain.png").read_bytes()  # the dotted lines


def test_spike_markers_absent_without_archived_events() -> None:
    line = {"metric": "train_loss", "label": "train_loss", "x": [1, 2, 3], "y": [1.0, 5.0, 1.0], "best_index": None,
            "first_nonfinite": None}
    doc = {"best": None, "charts": [{"name": "loss", "title": "Loss", "xlabel": "step", "ylabel": "",
                                     "yscale": "linear", "lines": [line]}]}
    assert figures(doc)[0]["layout"]["shapes"] == []
    assert [s["x0"] for s in figures(doc, {"train_loss": [[2, 5.0]]})[0]["layout"]["shapes"]] == [2]
