"""Markdown tables of the recorder grid (recorder_grid.py) and the issue 12 targets."""

from __future__ import annotations

import math
import statistics

__all__ = ["grid_tables"]

RASTER_MAX, RASTER_MEDIAN = 1.00, 0.90  # raster error / MinMaxLTTB's: every cell, median
FINALIZE_MAX = 2.0  # finalize() / one MinMaxLTTB pass over the series, per line
LOG_MAX = 1.2  # log() of a float / list.append; of a CPU 0-d tensor / Gauge.set(t.item())


def _n(n: int) -> str:
    return f"10^{round(math.log10(n))}"


def grid_tables(rows: list[dict], cost: dict | None) -> list[str]:
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None and r["ref_error"] > 0]
    worst = max((r for r in rows if r["ratio"] is not None and r["ref_error"] > 0), key=lambda r: r["ratio"])
    spiky = [r for r in rows if r["spikes"]]
    under = [r for r in spiky if r["spikes"] <= r["budget"] // 4]
    top = max(r["n"] for r in rows)
    fin = [r["finalize_s"] / r["minmaxlttb_s"] for r in rows if r["n"] == top and r["curve"] != "val_loss"]
    kept = {k for r in rows for k in r["kept"]}
    md = ["", "## Grid: generated curves x lengths x budgets vs offline MinMaxLTTB", "",
          "| target | result |", "|---|---|",
          f"| raster error <= {RASTER_MAX:.2f}x MinMaxLTTB in every cell | {sum(q <= RASTER_MAX for q in ratios)}/"
          f"{len(ratios)} cells; worst {worst['ratio']:.2f}x ({worst['curve']}, n={_n(worst['n'])}, budget "
          f"{worst['budget']}) |",
          f"| median raster ratio <= {RASTER_MEDIAN:.2f} | {statistics.median(ratios):.3f} |",
          f"| spikes kept >= MinMaxLTTB in every cell | {sum(r['spikes_kept'] >= r['spikes_ref'] for r in spiky)}/"
          f"{len(spiky)} cells |",
          f"| 100% of spikes where spikes <= budget/4 (kept: up to budget/2) | "
          f"{sum(r['spikes_kept'] == r['spikes'] for r in under)}/{len(under)} cells |"]
    for k in sorted(kept):
        have = [r for r in rows if k in r["kept"]]
        md.append(f"| {k} point kept | {sum(r['kept'][k] for r in have)}/{len(have)} cells "
                  f"(MinMaxLTTB: {sum(r['kept_ref'][k] for r in have)}/{len(have)}) |")
    if fin:
        md.append(f"| finalize() <= {FINALIZE_MAX:.0f}x one MinMaxLTTB pass, n={_n(top)} (val_loss, n/100 "
                  "points, apart) | median "
                  f"{statistics.median(fin):.2f}x, worst {max(fin):.2f}x; {sum(q <= FINALIZE_MAX for q in fin)}/"
                  f"{len(fin)} cells |")
        secs = [r["finalize_s"] for r in rows]
        md.append(f"| finalize() per line, every cell (any length) | median {1e3 * statistics.median(secs):.0f} ms, "
                  f"worst {1e3 * max(secs):.0f} ms |")
    if cost:
        md += _log_targets(cost)
    lengths = sorted({r["n"] for r in rows})
    head = "| curve | budget | " + " | ".join(f"n={_n(n)}" for n in lengths) + " |"
    sep = "|---" * (len(lengths) + 2) + "|"
    md += ["", "### Raster error / MinMaxLTTB's (raster error in brackets)", "", head, sep]
    for curve in dict.fromkeys(r["curve"] for r in rows):
        for b in sorted({r["budget"] for r in rows}):
            cells = [_cell(rows, curve, b, n, lambda r: (f"{r['ratio']:.2f}x" if r["ratio"] is not None else "–")
                           + f" ({r['error']:.3f})") for n in lengths]
            md.append(f"| {curve} | {b} | " + " | ".join(cells) + " |")
    md += ["", "### Spikes kept exactly (curvewatch / MinMaxLTTB / injected)", "", head, sep]
    for curve in dict.fromkeys(r["curve"] for r in spiky):
        for b in sorted({r["budget"] for r in rows}):
            cells = [_cell(spiky, curve, b, n, lambda r: f"{r['spikes_kept']} / {r['spikes_ref']} / {r['spikes']}")
                     for n in lengths]
            md.append(f"| {curve} | {b} | " + " | ".join(cells) + " |")
    md += ["", "### finalize() / one MinMaxLTTB pass over the series (ms in brackets)", "", head, sep]
    for curve in dict.fromkeys(r["curve"] for r in rows):
        for b in sorted({r["budget"] for r in rows}):
            cells = [_cell(rows, curve, b, n, lambda r: f"{r['finalize_s'] / r['minmaxlttb_s']:.2f}x "
                           f"({1e3 * r['finalize_s']:.0f} / {1e3 * r['minmaxlttb_s']:.0f})") for n in lengths]
            md.append(f"| {curve} | {b} | " + " | ".join(cells) + " |")
    return md


def _cell(rows: list[dict], curve: str, budget: int, n: int, fmt) -> str:
    r = next((r for r in rows if r["curve"] == curve and r["budget"] == budget and r["n"] == n), None)
    return fmt(r) if r is not None else "–"


def _ratio(cost: dict, name: str, base: str) -> float:
    return statistics.median(a / b for a, b in zip(cost[name], cost[base], strict=True))


def _log_targets(cost: dict) -> list[str]:
    pairs = [("rec.log(step, loss=x)", "list.append"), ("rec.log(step, a=, b=, c=, d=) per scalar", "list.append"),
             ("rec.log(step, loss=tensor) CPU 0-d", "prometheus Gauge.set(t.item()) CPU 0-d")]
    out = []
    for name, base in pairs:
        if name in cost and base in cost:
            q = _ratio(cost, name, base)
            out.append(f"| {name} <= {LOG_MAX}x {base} | {q:.2f}x ({statistics.median(cost[name]):.0f} ns vs "
                       f"{statistics.median(cost[base]):.0f} ns); {'pass' if q <= LOG_MAX else 'MISSED'} |")
    floor = "no-op f(step, /, **metrics)"
    if "rec.log(step, loss=x)" in cost and floor in cost:  # what any log(step, **metrics) written in Python costs
        out.append(f"| (the floor) rec.log(step, loss=x) / an empty Python {floor} | "
                   f"{_ratio(cost, 'rec.log(step, loss=x)', floor):.2f}x |")
    return out
