"""The markdown tables of bench_recorder.py's results (kept apart so each file says one thing)."""

from __future__ import annotations

import math
import statistics

from recorder_grid_report import grid_tables

__all__ = ["render"]



def _grid(title: str, rows: list[dict], cell, methods: list[str], head: str = "method") -> list[str]:
    """A markdown table: one row per method, one column per length; ``cell(rows_of_that_pair)``."""
    lengths = sorted({r["n"] for r in rows})
    cols = " | ".join(f"n=10^{round(math.log10(n))}" for n in lengths)
    out = [f"\n{title}\n", f"| {head} | {cols} |", "|---" * (len(lengths) + 1) + "|"]
    for m in methods:
        cells = [cell([r for r in rows if r["method"] == m and r["n"] == n]) for n in lengths]
        out.append(f"| {m} | " + " | ".join(c if c else "–" for c in cells) + " |")
    return out


def _ratio(r: dict, rows: list[dict], ref_method: str) -> float | None:
    ref = next(q["error"] for q in rows if q["method"] == ref_method and q["n"] == r["n"]
               and q["curve"] == r["curve"] and q["budget"] == r["budget"])
    return r["error"] / ref if ref > 0 else None


def render(res: dict) -> str:
    """The results of bench_recorder.py as markdown; what it ran travels in ``res["config"]``."""
    cfg = res.get("config", {})
    budgets, methods, ref = tuple(cfg.get("budgets", ())), list(cfg.get("methods", [])), cfg.get("ref", "")
    seeds_of = {int(k): v for k, v in cfg.get("seeds", {}).items()}
    spiky_curves = tuple(cfg.get("spiky", ()))
    md = ["# Recorder benchmark results", "",
          f"`bench/bench_recorder.py` ({res['mode']} run, {res['seconds']:.0f} s): Python {res['python']}, "
          f"NumPy {res['numpy']}, tsdownsample {res['tsdownsample']}, {res['cpus']} CPUs, "
          f"load average {res['load']:.1f} at start; log() on the {res.get('log_buffer', 'pure Python')} "
          "log buffer."]
    if res.get("grid"):
        md += grid_tables(res["grid"], res.get("cost"))
    fid = res.get("fidelity", [])
    if fid:
        cw = [r for r in fid if r["method"] == "curvewatch"]
        md += ["", "## Targets", "", "| target | result |", "|---|---|"]
        for b in budgets:
            rs = [(_ratio(r, fid, ref), r) for r in cw if r["curve"] in spiky_curves and r["budget"] == b]
            rs = [(q, r) for q, r in rs if q is not None]
            if rs:
                q, r = max(rs, key=lambda t: t[0])
                passed = sum(q <= 1.05 for q, _ in rs)
                md.append(f"| raster error <= 1.05x MinMaxLTTB, spiky curves, budget {b} | worst {q:.3f}x "
                          f"({r['curve']}, n={r['n']:.0e}); {passed}/{len(rs)} cases pass |")
        md.append(f"| global min and max kept | {_count(cw, 'extremes')} |")
        md.append(f"| first non-finite kept | {_count([r for r in cw if r['nonfinite'] is not None], 'nonfinite')} |")
        md += _cost_targets(res)
        seeds = ", ".join(f"{k} at 10^{round(math.log10(n))}" for n, k in seeds_of.items())
        md += ["", "## Raster error", "", "Drawn at 1000x400 px (log10(y) for loss curves, NaN/inf as gaps); "
               "differing pixels / the full line's pixels, mean over random curves per length "
               f"({seeds}); in brackets: the ratio to MinMaxLTTB's. At 10^7 the per-point Python methods "
               "(reservoir, curvewatch) run on the two spiky curves only."]
        for curve in dict.fromkeys(r["curve"] for r in fid):
            for b in budgets:
                rows = [r for r in fid if r["curve"] == curve and r["budget"] == b]
                md += _grid(f"### {curve}, budget {b}", rows, lambda rs, rows=rows: _error_cell(rs, rows, ref), methods)
        spiky = [r for r in fid if r["curve"] in spiky_curves]
        md += ["", "## Spikes, extremes, non-finite, points, time, state (spiky curves)"]
        for b in budgets:
            rb = [r for r in spiky if r["budget"] == b]
            md += _grid(f"Spikes kept, budget {b} (spiky_loss / diverging_loss, within +-1 pixel):", rb,
                        lambda rs: " / ".join(f"{100 * r['spikes']:.0f}%" for r in rs), methods)
        md += _grid("Global min and max kept (all curves and budgets):", fid,
                    lambda rs: _count(rs, "extremes"), methods)
        diverging = [r for r in fid if r["nonfinite"] is not None]
        md += _grid("First non-finite kept (diverging_loss, both budgets):", diverging,
                    lambda rs: _count(rs, "nonfinite"), methods)
        one = [r for r in fid if r["curve"] == "spiky_loss"]
        pair = lambda key, f: lambda rs: " / ".join(f(r[key]) for r in rs)  # noqa: E731
        md += _grid("Points kept (spiky_loss, budget 1000 / 4000):", one, pair("points", str), methods)
        md += _grid("ns per input point (spiky_loss, budget 1000 / 4000):", one,
                    pair("ns", lambda v: f"{v:.0f}"), methods)
        md += _grid("Bytes of state (spiky_loss, budget 1000 / 4000):", one, pair("bytes", _size), methods)
    if "cost" in res:
        if not fid:
            md += ["", "## Targets", "", "| target | result |", "|---|---|", *_cost_targets(res)]
        c = res["cost"]
        md += ["", "## Cost per scalar (repetitions interleaved; medians)", "",
               "| call | ns per scalar | ratio to list.append | ratio to Gauge.set |", "|---|---|---|---|"]
        for name, ns in c.items():
            md.append(f"| {name} | {statistics.median(ns):.0f} | {_cost_ratio(c, name, 'list.append'):.2f}x | "
                      f"{_cost_ratio(c, name, GAUGE):.2f}x |")
    if "memory" in res:
        md += ["", "## Memory (fresh process per length; 2 metrics per step, budget 1000)", "",
               "| steps | VmRSS before logging | VmRSS after finalize | growth | VmHWM before / after | "
               "logging time |", "|---|---|---|---|---|---|"]
        for m in res["memory"]:
            md.append(f"| {m['n']:.0e} | {m['before'] / 1024:.1f} MiB | {m['after'] / 1024:.1f} MiB | "
                      f"{(m['after'] - m['before']) / 1024:+.1f} MiB | {m['hwm_before'] / 1024:.1f} / "
                      f"{m['peak'] / 1024:.1f} MiB | {m['seconds']:.1f} s |")
    return "\n".join(md) + "\n"


GAUGE = "prometheus Gauge.set"
LOG_COST_TARGET_NS = 500  # issue 3: log() <= 0.5 us per scalar (Python floats)


def _cost_ratio(cost: dict, name: str, base: str) -> float:
    """Median over repetitions of the per-repetition ratio (both measured in the same repetition)."""
    return statistics.median(a / b for a, b in zip(cost[name], cost[base], strict=True))


def _cost_targets(res: dict) -> list[str]:
    if "cost" not in res:
        return []
    rows = []
    for name in ("rec.log(step, loss=x)", "rec.log(step, a=, b=, c=, d=) per scalar"):
        ns = res["cost"][name]
        rows.append(f"| {name} <= {LOG_COST_TARGET_NS} ns per scalar | median {statistics.median(ns):.0f} ns, "
                    f"worst of {len(ns)} repetitions {max(ns):.0f} ns ({_cost_ratio(res['cost'], name, GAUGE):.2f}x "
                    f"Gauge.set); {'pass' if max(ns) <= LOG_COST_TARGET_NS else 'MISSED'} |")
    return rows


def _error_cell(rs: list[dict], rows: list[dict], ref: str) -> str:
    if not rs:
        return ""
    q = _ratio(rs[0], rows, ref)
    return f"{rs[0]['error']:.4f}" + (f" ({q:.2f}x)" if q is not None else "")


def _count(rs: list[dict], key: str) -> str:
    return f"{sum(r[key] for r in rs)}/{sum(r[key + '_of'] for r in rs)}" if rs else ""


def _size(b: int) -> str:
    return f"{b / 2**20:.1f} MiB" if b >= 2**20 else f"{b / 1024:.0f} KiB"
