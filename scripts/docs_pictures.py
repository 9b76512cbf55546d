"""Draw the README's two pictures with curvewatch's own code: a recorded curve and the report page.

    .venv/bin/python scripts/docs_pictures.py             # rewrite docs/images/curve.png and docs/images/report.png
    .venv/bin/python scripts/docs_pictures.py --out DIR   # draw them into DIR instead (tests/test_docs_pictures.py)

``curve.png`` is what every archived version holds as ``loss_curve.png``: ``curvewatch demo``'s synthetic run
(``run_demo``: 200,000 steps logged one by one into a ``CurveRecorder``, budget 1000) drawn by
``CurveRecorder.save_png``. ``report.png`` is ``curvewatch report``'s page of that run (``write_report``) as
headless Debian ``chromium`` draws it (a fresh profile in a temp dir, no network, stopped when done).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["CURVE", "REPORT", "STEPS", "draw_curve", "draw_report"]

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "images"
CURVE, REPORT = "curve.png", "report.png"
STEPS, BUDGET, SEED = 200_000, 1000, 0
WINDOW = (1280, 1000)  # px: the report's header, the loss chart and the accuracy chart
SHOWN_PATH = "out/demo/curves.json"  # where `curvewatch demo` writes it; the page shows this, not a temp path
CHROMIUM_TIMEOUT_S = 90
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic", "--virtual-time-budget=20000"]


def draw_curve(work: Path, out: Path) -> Path:
    """Record the demo run into ``work`` and copy its PNG to ``out``; returns the curves.json path."""
    from curvewatch.cli.demo import run_demo

    paths = run_demo(STEPS, BUDGET, work, SEED)
    shutil.copyfile(paths["png"], out)
    return paths["json"]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise SystemExit("docs_pictures: chromium is not installed; run scripts/setup-tests.sh "
                         "(Debian package `chromium`) and try again.")
    return found


def draw_report(curves_json: Path, work: Path, out: Path) -> Path:
    """Write the report page of ``curves_json`` and screenshot it with headless chromium into ``out``."""
    from curvewatch.views import Sources, write_report

    loaded = Sources().load(str(curves_json))
    loaded = dataclasses.replace(loaded, label=SHOWN_PATH, metadata={**loaded.metadata, "path": SHOWN_PATH})
    page = write_report(loaded, work / "report.html")
    shot = work / "report.png"
    command = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={work / 'profile'}",
               f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)
    if done.returncode != 0 or not shot.is_file():
        raise SystemExit(f"docs_pictures: chromium could not draw the report (exit {done.returncode}): "
                         f"{done.stderr.strip()[-500:]}")
    shutil.copyfile(shot, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Draw docs/images/curve.png and report.png with curvewatch.")
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder to write them to (default docs/images)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="curvewatch-pictures-") as tmp:
        work = Path(tmp)
        curves = draw_curve(work / "demo", args.out / CURVE)
        draw_report(curves, work, args.out / REPORT)
    print(f"wrote {args.out / CURVE} and {args.out / REPORT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
