"""The robust y range (exporter/_yrange.py) and its use in the archived PNG (exporter/recorder/plot.py)."""

from __future__ import annotations

import numpy as np
import pytest
from curvewatch._yrange import MARGIN, robust_y_range
from curvewatch.recorder.plot import draw_chart

DECAY = np.geomspace(2.0, 0.01, 500)


def test_ignores_far_outliers_in_scaling() -> None:
    spiky = DECAY.copy()
    spiky[250] = 1e6  # one huge spike
    linear = robust_y_range([spiky])
    assert linear.clipped and linear.high < 3 and linear.outside(spiky).tolist().count(True) == 1
    diverged = np.concatenate([DECAY, [1e10, 1e20, 1e28]])  # a divergence at the end, on a log axis
    log = robust_y_range([diverged], log=True)
    assert log.clipped and log.high < 3 and log.low < 0.01
    assert np.flatnonzero(log.outside(diverged)).tolist() == [500, 501, 502]


@pytest.mark.parametrize("log", [False, True])
def test_keeps_the_whole_range_when_nothing_is_far_out(log: bool) -> None:
    yr = robust_y_range([DECAY, DECAY * 1.5], log=log)
    assert not yr.clipped and not yr.outside(DECAY * 1.5).any()
    assert yr.low <= 0.01 and yr.high >= 3.0


def test_a_divergence_of_several_points_is_left_out_of_the_range() -> None:
    # a real-looking divergence: the last five of 160 points climb from 10 to 1e36
    y = np.concatenate([np.geomspace(10.0, 0.01, 155), [10.0, 1e5, 1e12, 1e22, 1e36]])
    yr = robust_y_range([y], log=True)
    assert yr.high < 1e3 and np.flatnonzero(yr.outside(y)).tolist() == [156, 157, 158, 159]


def test_keeps_the_values_asked_for() -> None:
    values = np.concatenate([np.full(200, 1.0) + np.linspace(0, 0.1, 200), [50.0]])
    assert robust_y_range([values]).outside(np.array([50.0]))[0]
    kept = robust_y_range([values], keep=[50.0])
    assert not kept.outside(np.array([50.0]))[0] and not kept.clipped


def test_nonfinite_and_nonpositive_values_take_no_part() -> None:
    assert robust_y_range([np.array([np.nan, np.inf, -np.inf])]) is None
    assert robust_y_range([np.array([0.0, -1.0, np.nan])], log=True) is None
    yr = robust_y_range([np.array([1.0, 2.0, np.nan, np.inf, -5.0])], log=True)
    assert yr.low == pytest.approx(10 ** (0 - MARGIN * np.log10(2))) and not yr.clipped


def test_the_png_marks_values_outside_the_range_at_the_edge_with_their_value() -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    y = np.concatenate([DECAY, [1e28, np.nan]])
    chart = {"name": "loss", "title": "Loss", "xlabel": "step", "ylabel": "loss", "yscale": "log",
             "lines": [{"metric": "loss", "label": "train", "x": list(range(502)), "y": y.tolist(),
                        "best_index": 499, "points_logged": 502, "nonfinite_count": 1,
                        "first_nonfinite": {"step": 501, "value": "NaN"}}]}
    ax = Figure().subplots()
    yr = draw_chart(ax, chart, {"metric": "loss", "mode": "min", "step": 499, "value": y[499]})
    low, high = ax.get_ylim()
    assert high < 10 and low < 0.01 and yr.clipped  # the divergence does not flatten the curve
    texts = [t.get_text() for t in ax.texts]
    assert "1e+28" in texts  # marked at the edge with its value, not dropped
    assert any(t.startswith("best min") for t in texts) and any("NaN @ 501" in t for t in texts)
    marker = [ln for ln in ax.lines if ln.get_marker() == "^"]
    assert len(marker) == 1 and marker[0].get_xdata().tolist() == [500.0]
