"""Peak memory of the bounded strict JSON reader, as a multiple of the file size (issue 24: <= 4x).

    .venv/bin/python bench/bench_json_memory.py           # 50 MB files
    .venv/bin/python bench/bench_json_memory.py --mb 5    # smaller, quicker

Four files of the given size: one string of ASCII, one string of 3-byte UTF-8 characters with
escapes, an array of floats as Python writes them, and an array of small integers. Each is read by
``read_json_file`` in its own process; the peak is the process's peak RSS (VmHWM) minus its RSS just before
the read (imports done, file written by the parent), so the figure is the reader's own. Prints one
markdown table and writes it to ``bench/results/json_memory.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import tempfile
from pathlib import Path

LIMIT = 4.0  # the bound: peak memory <= 4x the file size


def _status_kib(key: str) -> int:
    """VmRSS (now) or VmHWM (this process's peak; ru_maxrss would keep the parent's across exec)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key))


def _measure(path: str, queue: mp.Queue) -> None:
    from curvewatch._json_reader import read_json_file

    before = _status_kib("VmRSS:")
    value = read_json_file(path)
    queue.put(((_status_kib("VmHWM:") - before) * 1024, type(value).__name__))


def _write(kind: str, size: int, path: Path) -> None:
    rng = random.Random(0)
    if kind == "ascii string":
        path.write_bytes(b'{"s": "' + b"x" * size + b'"}')
    elif kind == "utf-8 string + escapes":
        unit = ("é€\\n\\\"" * 1000).encode()
        path.write_bytes(b'{"s": "' + unit * (size // len(unit)) + b'"}')
    elif kind == "floats":
        n = size // len(repr(rng.random()) + ", ")
        path.write_text(json.dumps([rng.random() for _ in range(n)]))
    else:  # small integers
        n = size // len("123, ")
        path.write_text(json.dumps([rng.randrange(1000) for _ in range(n)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("ascii string", "utf-8 string + escapes", "floats", "small integers"):
            path = Path(tmp) / "file.json"
            _write(kind, int(args.mb * 1e6), path)
            size = path.stat().st_size
            queue = ctx.Queue()
            proc = ctx.Process(target=_measure, args=(str(path), queue))
            proc.start()
            grown, result = queue.get(timeout=600)
            proc.join()
            ratio = grown / size
            rows.append(f"| {kind} | {size / 1e6:.1f} | {grown / 1e6:.1f} | {ratio:.2f}x | "
                        f"{'yes' if ratio <= LIMIT else 'NO'} |")
    table = "\n".join([f"Peak memory of read_json_file (limit {LIMIT:g}x the file size):", "",
                       "| file | size MB | peak growth MB | ratio | within |", "|---|---|---|---|---|", *rows])
    print(table)
    out = Path(__file__).resolve().parent / "results" / "json_memory.md"
    out.write_text(table + "\n")


if __name__ == "__main__":
    main()
