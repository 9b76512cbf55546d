"""Loading large curves documents: the bounded strict reader + skeleton validation vs the former path.

    .venv/bin/python bench/bench_hardening.py            # 5, 20 and 50 MB (new); 1 and 5 MB (former)
    .venv/bin/python bench/bench_hardening.py --quick    # 5 MB only

The former path is what ``load_document`` did before: ``json.loads`` and the JSON Schema validator walking
every point, then the decode. Each load runs in its own process so its peak RSS is its own. Prints one
markdown table (seconds, seconds per MB, peak RSS) and writes it to ``bench/results/hardening.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def _former_load(path: Path) -> dict:
    import jsonschema
    from curvewatch.recorder import document

    obj = json.loads(path.read_bytes())
    schema = json.loads(document.SCHEMA_PATH.read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    assert not errors
    return document._decode(obj)


def _measure(method: str, path: str, out: mp.Queue) -> None:
    from curvewatch.recorder import load_document

    started = time.perf_counter()
    (load_document if method == "new" else _former_load)(Path(path))
    seconds = time.perf_counter() - started
    out.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    from test_hardening_json import _large_document

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    plan = [("new", 5), ("former", 5)] if args.quick else [("former", 1), ("former", 5), ("new", 5), ("new", 20),
                                                            ("new", 50)]
    rows = ["| loader | size MB | seconds | s/MB | peak RSS MB |", "|---|---|---|---|---|"]
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        for method, mb in plan:
            path = Path(tmp) / f"{mb}.json"
            if not path.exists():
                path.write_bytes(_large_document(mb * 1_000_000))
            size = path.stat().st_size / 1e6
            out = ctx.Queue()
            proc = ctx.Process(target=_measure, args=(method, str(path), out))
            proc.start()
            seconds, rss = out.get(timeout=3600)
            proc.join()
            rows.append(f"| {method} | {size:.1f} | {seconds:.2f} | {seconds / size:.3f} | {rss:.0f} |")
            print(rows[-1], flush=True)
    report = "\n".join(rows) + "\n"
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "hardening.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
