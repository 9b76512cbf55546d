"""`import curvewatch` is the public API: every area's names, sorted, each one resolvable."""

from __future__ import annotations

import subprocess
import sys

import curvewatch


def test_the_public_api_exports_every_area_in_a_sorted_all() -> None:
    from curvewatch import archive, prom, recorder, signals, tracking

    assert curvewatch.__all__ == sorted(curvewatch.__all__)
    for area in (archive, prom, recorder, signals, tracking):
        assert set(area.__all__) <= set(curvewatch.__all__), area.__name__
    for name in curvewatch.__all__:
        assert getattr(curvewatch, name) is not None
    assert curvewatch.RunTracker is tracking.RunTracker and "RunTracker" in dir(curvewatch)
    assert curvewatch.local_copy is archive.local_copy  # a version's URL (s3://...) as a local path


def test_importing_curvewatch_imports_the_tracker_only_when_used() -> None:
    code = ("import sys, curvewatch; before = 'curvewatch.tracking' in sys.modules; "
            "from curvewatch import RunTracker; print(before, 'curvewatch.tracking' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_a_missing_extra_is_named_in_a_sentence() -> None:
    from curvewatch.extras import MissingExtraError

    error = MissingExtraError.of(ModuleNotFoundError("No module named 'xlstm.blocks'", name="xlstm.blocks"),
                                 "curvewatch train")
    assert isinstance(error, ModuleNotFoundError) and str(error) == (
        "curvewatch train needs the 'trainers' extra ('xlstm.blocks' is not installed); "
        "run: pip install 'curvewatch[trainers]'.")
    other = ModuleNotFoundError("No module named 'nothing_we_know'", name="nothing_we_know")
    assert MissingExtraError.of(other) is other
