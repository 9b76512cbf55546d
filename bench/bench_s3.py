"""Commit time of a 50 MB model to an ``s3://`` root (moto.server on 127.0.0.1) against the local disk, as a ratio.

    .venv/bin/python bench/bench_s3.py                  # 50 MB, median of 5 commits each
    .venv/bin/python bench/bench_s3.py --mb 200 --repeat 3

Both roots use one throw-away PostgreSQL registry (started like the tests' fixture), so the two columns differ
only in where the files go. Each round, in the same run and alternating: allocate, ``atomic_torch_save`` the
model into the version (local disk in both cases: the cache for the S3 root), then ``commit`` (the S3 root also
uploads every file, the manifest and the marker). Also measured: another host's first ``get`` of the version
(the download into its cache) and ``verify`` (a fresh download and every digest). Writes bench/results/s3.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import torch  # noqa: E402
from curvewatch.archive import ModelArchive, ModelKey, atomic_torch_save  # noqa: E402
from fixtures.postgres import PostgresServer  # noqa: E402
from fixtures.s3 import MotoServer, s3_environment  # noqa: E402
from test_archive_support import make_recorder  # noqa: E402

KEY = ModelKey.product("P001", scope="all", model_type="bench")


def _commit(archive: ModelArchive, state: dict) -> tuple[float, float, int]:
    handle = archive.allocate(KEY)
    start = time.perf_counter()
    atomic_torch_save(state, handle.model_path)
    saved = time.perf_counter()
    archive.commit(handle, make_recorder(), metrics_summary={"val_loss": 0.5})
    return saved - start, time.perf_counter() - saved, handle.version


def _list_cost(archive: ModelArchive, versions: int) -> tuple[float, int]:
    """Seconds of ``version_dirs()`` (rebuild's one LIST) over ``versions`` versions of 7 small objects each."""
    names = ("checkpoint_best.pth", "curves.json", "loss_curve.png", "manifest.json", "metadata.json",
             "model.pth", "status.json")
    base = f"{archive.storage.base}/experiments/listing"
    archive.storage.fs.pipe({f"{base}/m{i // 100}/v{i % 100 + 1}/{n}": b"x" for i in range(versions) for n in names})
    start = time.perf_counter()
    found = archive.storage.version_dirs()
    elapsed = time.perf_counter() - start
    assert len(found) >= versions
    return elapsed, versions * len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="model size in MB (float32 weights)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--listed", type=int, default=1000, help="versions in the bucket for the LIST measurement")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "s3.md")
    args = parser.parse_args()
    state = {"w": torch.randn(args.mb * 1_000_000 // 4)}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="curvewatch-bench-pg-") as pg:
        work = Path(tmp)
        postgres, moto = PostgresServer(Path(pg)), MotoServer(work)  # the pg folder is chowned to postgres
        postgres.start()
        moto.start()
        try:
            os.environ.update(s3_environment(moto, work / "cache"))
            import boto3

            boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket="bench")
            db_url = postgres.create_database("bench")
            local = ModelArchive(work / "saved_models", db_url=db_url)
            remote = ModelArchive("s3://bench/models", db_url=db_url, cache_dir=work / "host-a")
            times: dict[str, list[float]] = {"local": [], "s3": [], "save": []}
            on_s3 = []  # the registry numbers versions across both roots
            for _ in range(args.repeat):  # alternating, so a slower minute hits both columns
                for name, archive in (("local", local), ("s3", remote)):
                    saved, committed, version = _commit(archive, state)
                    times[name].append(committed)
                    times["save"].append(saved)
                    on_s3 += [version] if name == "s3" else []
            reader = ModelArchive("s3://bench/models", db_url=db_url, cache_dir=work / "host-b", read_only=True)
            fetch, verify = [], []
            for version in on_s3:
                start = time.perf_counter()
                reader.get(KEY.identifier, version)
                fetch.append(time.perf_counter() - start)
                start = time.perf_counter()
                assert reader.verify(KEY.identifier, version) == []
                verify.append(time.perf_counter() - start)
            listed = _list_cost(remote, args.listed)
            for archive in (local, remote, reader):
                archive.close()
        finally:
            moto.stop()
            postgres.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    size = os.cpu_count()
    lines = [
        f"# Archive on object storage: commit of a {args.mb} MB model, median of {args.repeat}",
        "",
        f"moto.server on 127.0.0.1 (one process, in memory) vs the local disk; one PostgreSQL registry for both; "
        f"{size} cores, one run, alternating rounds. `python bench/bench_s3.py --mb {args.mb} --repeat {args.repeat}`",
        "",
        "| measurement | seconds |",
        "|---|---|",
        f"| torch.save of the model (local disk, both roots) | {med['save']:.3f} |",
        f"| commit, local root | {med['local']:.3f} |",
        f"| commit, s3:// root (upload of every file, manifest, marker) | {med['s3']:.3f} |",
        f"| **ratio s3 / local commit** | **{med['s3'] / med['local']:.2f}x** |",
        f"| another host's first get (download into its cache) | {statistics.median(fetch):.3f} |",
        f"| verify on the s3:// root (fresh download, every digest) | {statistics.median(verify):.3f} |",
        f"| rebuild's LIST of a bucket holding {args.listed:,} versions ({listed[1]:,} objects) | {listed[0]:.3f} |",
        f"| the same LIST per 1,000 objects (one S3 page) | {listed[0] / listed[1] * 1000:.3f} |",
        "",
        f"Upload throughput: {args.mb / max(med['s3'] - med['local'], 1e-9):.0f} MB/s over the local commit's "
        "cost. moto keeps objects in memory and runs on the same 2 cores, so a real S3 endpoint is bounded by "
        "the network instead; the ratio says what the archive's own work adds, not what a given network costs.",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
