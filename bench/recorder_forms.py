"""Cost per scalar of every way to call the recorder, against list.append((step, x)) (issue 25).

    .venv/bin/python bench/recorder_forms.py [--reps 7] [--n 1000000]

Thread CPU time (time.thread_time_ns: another process on the machine does not count), cases
interleaved and rotated each repetition, ratios taken within a repetition and the median reported.
Every case logs the same floats at steps 0..n-1 into a fresh recorder and folds what is left in
its buffer at the end (every value folded: the steady state of a long run). The baseline appends
``(step, x)`` to a list emptied every FLUSH_EVERY values (a buffer, like the recorder's; a list of
millions of tuples costs more, mostly in the collector), also with the collector off.
Floors: the same call shapes into a Python no-op function show what CPython itself costs per call
form (>= 15 keywords and ``**d`` are passed as a dict, whoever is called).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from pathlib import Path

import numpy as np
from curvewatch import CurveRecorder
from curvewatch.recorder.recorder import FLUSH_EVERY

__all__ = ["forms"]

HERE = Path(__file__).resolve().parent
WIDE = (4, 8, 12, 16, 32)  # metrics per call, each call shape logging n // 4 steps (as many values per metric)
SITES = (1, 4, 16)  # call sites logging in turn (4 metrics each, n // 4 steps)


def _kw_function(k: int, prefix: str = "m") -> str:
    return ", ".join(f"{prefix}{i}=v" for i in range(k))


def _cases(xs: list[float]) -> dict:
    n = len(xs)
    g: dict = {"xs": xs, "CurveRecorder": CurveRecorder, "FLUSH_EVERY": FLUSH_EVERY, "gc": gc}
    src = [
        "def append():\n lst = []\n for s, v in enumerate(xs):\n  lst.append((s, v))\n"
        "  if len(lst) >= FLUSH_EVERY: lst = []\n return len(xs)",
        "def append_nogc():\n gc.disable()\n try:\n  return append()\n finally:\n  gc.enable()",
        "def line():\n h = (rec := CurveRecorder(budget=1000)).line('loss')\n for s, v in enumerate(xs): h(s, v)\n"
        " rec._flush()\n return len(xs)",
        "def kw1():\n log = (rec := CurveRecorder(budget=1000)).log\n for s, v in enumerate(xs): log(s, loss=v)\n"
        " rec._flush()\n return len(xs)",
    ]
    for k in WIDE:
        names = [f"m{i}" for i in range(k)]
        src.append(f"def kw{k}():\n log = (rec := CurveRecorder(budget=1000)).log\n"
                   f" for s, v in enumerate(xs[:{n // 4}]): log(s, {_kw_function(k)})\n"
                   f" rec._flush()\n return {k * (n // 4)}")
        g[f"pool{k}"] = _pool(xs, names, n // 4)  # dicts made before the timer, as an integration has them
        src.append(f"def dict{k}():\n log = (rec := CurveRecorder(budget=1000)).log\n"
                   f" for s, d in enumerate(pool{k}): log(s, d)\n rec._flush()\n return {k * (n // 4)}")
        src.append(f"def star{k}():\n log = (rec := CurveRecorder(budget=1000)).log\n"
                   f" for s, d in enumerate(pool{k}): log(s, **d)\n rec._flush()\n return {k * (n // 4)}")
        src.append(f"def noop_star{k}():\n log = _noop\n"
                   f" for s, d in enumerate(pool{k}): log(s, **d)\n return {k * (n // 4)}")
        src.append(f"def noop_kw{k}():\n log = _noop\n"
                   f" for s, v in enumerate(xs[:{n // 4}]): log(s, {_kw_function(k)})\n return {k * (n // 4)}")
    for sites in SITES:  # `sites` call sites in turn (written out: no dispatch), each with its own 4 names,
        calls = n // 4  # each logging n // 4 steps (so each metric holds as many values whatever the sites)
        body = "".join(f"  log(s, {_kw_function(4, f'a{i}_')})\n" for i in range(sites))
        src.append(f"def sites{sites}():\n log = (rec := CurveRecorder(budget=1000)).log\n"
                   f" for s, v in enumerate(xs[:{calls}]):\n{body}"
                   f" rec._flush()\n return {4 * calls * sites}")
        src.append(f"def noop_sites{sites}():\n log = _noop\n"
                   f" for s, v in enumerate(xs[:{calls}]):\n{body}"
                   f" return {4 * calls * sites}")
    g["_noop"] = _noop
    for s in src:
        exec(s, g)  # noqa: S102 - generated call sites: one per call shape, as in a training loop
    names = ["append", "append_nogc", "line", "kw1",
             *[f"{f}{k}" for k in WIDE for f in ("kw", "dict", "star", "noop_kw", "noop_star")],
             *[f"{f}{s}" for s in SITES for f in ("sites", "noop_sites")]]
    return {name: g[name] for name in names}


def _pool(xs: list[float], names: list[str], calls: int) -> list[dict[str, float]]:
    """``calls`` dicts of ``names`` (4096 distinct ones, repeated), values from ``xs``."""
    distinct = [{m: xs[(j * len(names) + i) % len(xs)] for i, m in enumerate(names)} for j in range(4096)]
    return (distinct * (calls // 4096 + 1))[:calls]


def forms(reps: int, n: int) -> dict[str, list[float]]:
    """ns per scalar of each case, one list entry per repetition."""
    xs = np.random.default_rng(0).random(n).tolist()
    cases = _cases(xs)
    out: dict[str, list[float]] = {k: [] for k in cases}
    for r in range(reps):
        order = list(cases)
        order = order[r % len(order):] + order[:r % len(order)]
        for name in order:
            gc.collect()
            t0 = time.thread_time_ns()
            count = cases[name]()
            out[name].append((time.thread_time_ns() - t0) / count)
    return out


def ratio(res: dict[str, list[float]], a: str, b: str) -> float:
    """Median over repetitions of a's cost / b's cost in the same repetition."""
    return statistics.median(x / y for x, y in zip(res[a], res[b], strict=True))


def render(res: dict[str, list[float]]) -> str:
    med = {k: statistics.median(v) for k, v in res.items()}
    rows = ["| case | ns per scalar (median) | / list.append((step, x)) | / kw4 per scalar |", "|---|---|---|---|"]
    for k in res:
        rows.append(f"| {k} | {med[k]:.1f} | {ratio(res, k, 'append'):.2f}x | {ratio(res, k, 'kw4'):.2f}x |")
    wide = max(ratio(res, f"dict{k}", "kw4") for k in WIDE)
    sites = max(ratio(res, f"sites{s}", "sites1") for s in SITES)
    star = max(ratio(res, f"star{k}", f"kw{k}") for k in WIDE if k < 15)
    star_floor = max(ratio(res, f"noop_star{k}", f"noop_kw{k}") for k in WIDE if k < 15)
    kw_wide = max(ratio(res, f"kw{k}", "kw4") for k in WIDE)
    targets = [
        "| target | measured | |", "|---|---|---|",
        f"| line(step, x) <= 1.0x list.append((step, x)) | {ratio(res, 'line', 'append'):.2f}x | "
        f"{'met' if ratio(res, 'line', 'append') <= 1.0 else 'not met'} |",
        f"| line(step, x) <= 1.0x list.append((step, x)) with the collector off | "
        f"{ratio(res, 'line', 'append_nogc'):.2f}x | "
        f"{'met' if ratio(res, 'line', 'append_nogc') <= 1.0 else 'not met'} |",
        f"| log(step, d), 4..32 metrics, per scalar <= 1.2x kw4 | worst {wide:.2f}x | "
        f"{'met' if wide <= 1.2 else 'not met'} |",
        f"| log(step, **kw), 4..32 keywords, per scalar <= 1.2x kw4 | worst {kw_wide:.2f}x "
        f"(CPython's own floor, a no-op: noop_kw32 / noop_kw4 = {ratio(res, 'noop_kw32', 'noop_kw4'):.2f}x) | "
        f"{'met' if kw_wide <= 1.2 else 'not met'} |",
        f"| 16 call sites in turn <= 1.2x one | worst {sites:.2f}x (CPython's own floor, no-op call sites: "
        f"noop_sites16 / noop_sites1 = {ratio(res, 'noop_sites16', 'noop_sites1'):.2f}x) | "
        f"{'met' if sites <= 1.2 else 'not met'} |",
        f"| log(step, **d) <= 1.1x the keyword call (< 15 metrics) | worst {star:.2f}x (CPython's own floor, a "
        f"no-op: worst noop_star / noop_kw = {star_floor:.2f}x) | "
        f"{'met' if star <= 1.1 else 'not met'} |",
        f"| log(step, d) <= 1.1x the keyword call (4 metrics) | {ratio(res, 'dict4', 'kw4'):.2f}x "
        "(the dicts made before the timer) | "
        f"{'met' if ratio(res, 'dict4', 'kw4') <= 1.1 else 'not met'} |",
    ]
    return "\n".join(targets + [""] + rows) + "\n"


def _noop(step: int, /, **metrics: float) -> None:
    pass


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "recorder_forms.md")
    a = ap.parse_args()
    res = forms(a.reps, a.n)
    text = (f"# Recorder: cost per call form (bench/recorder_forms.py --reps {a.reps} --n {a.n})\n\n"
            "Thread CPU time per scalar, folds included; ratios are medians of per-repetition ratios.\n\n"
            + render(res))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text)
    a.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    print(text)
