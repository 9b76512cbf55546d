"""``curvewatch import-tb LOGDIR`` and ``curvewatch tail-tb LOGDIR``: TensorBoard logdirs, no code change.

Exit codes: 0 ok; 1 the logdir could not be used (the message says why and what to do); 2 bad options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from curvewatch.archive.settings import DB_URL_ENV, ROOT_ENV, default_db_url, default_root
from curvewatch.cli._signals import stop_on_signals

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser(
        "import-tb",
        help="archive each run of a TensorBoard logdir as one version",
        description="Read every scalar of every run under LOGDIR (in full, not TensorBoard's sample) through "
        "the recorder and archive one version per run under experiments/EXPERIMENT/RUN/.",
    )
    imp.add_argument("logdir", type=Path, metavar="LOGDIR")
    imp.add_argument("--best", metavar="TAG", help="the scalar tag that decides each run's best point")
    imp.add_argument("--mode", choices=("min", "max"), default="min", help="best is the min or max of TAG")
    imp.add_argument("--experiment", help="experiment name of the versions (default: LOGDIR's name)")
    imp.add_argument("--budget", type=int, default=1000, help="points kept per curve (default 1000)")
    imp.add_argument("--root", default=default_root(), help=f"archive root (default ${ROOT_ENV} or saved_models)")
    imp.add_argument("--db-url", default=default_db_url(), help=f"registry URL (default ${DB_URL_ENV} or SQLite)")
    imp.set_defaults(func=run_import)

    tail = subparsers.add_parser(
        "tail-tb",
        help="serve live gauges for every run of a TensorBoard logdir as it grows",
        description="Follow the event files under LOGDIR (growing files, new runs, rotated files) and serve "
        "the curvewatch_* gauges of every run, run_id = the run's directory, until interrupted.",
    )
    tail.add_argument("logdir", type=Path, metavar="LOGDIR")
    tail.add_argument("--port", type=int, default=9100, help="port to listen on (default 9100; 0: a free one)")
    tail.add_argument("--addr", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    tail.add_argument("--interval", type=float, default=1.0, help="seconds between background reads (default 1)")
    tail.add_argument("--rescan", type=float, default=5.0, help="seconds between looks for new runs (default 5)")
    tail.add_argument("--budget", type=int, default=1000, help="points kept per curve (default 1000)")
    tail.add_argument("--sd-file", help="register the endpoint in this Prometheus file_sd file or directory")
    tail.set_defaults(func=run_tail)


def _fail(command: str, message: object) -> int:
    print(f"curvewatch {command}: {message}", file=sys.stderr)
    return 1


def run_import(args: argparse.Namespace) -> int:
    from curvewatch.archive import ArchiveError, ModelArchive
    from curvewatch.integrations.tensorboard import TensorBoardInputError, archive_runs, read_logdir
    from curvewatch.recorder import RecorderError

    def problem(sentence: str) -> None:
        print(f"curvewatch import-tb: {sentence}", file=sys.stderr)

    try:
        reads = read_logdir(args.logdir, best=args.best, mode=args.mode)  # before the archive is opened
        with ModelArchive(args.root, db_url=args.db_url) as archive:
            results = archive_runs(args.logdir, reads, archive, experiment=args.experiment, best=args.best,
                                   mode=args.mode, budget=args.budget, on_problem=problem)
    except (TensorBoardInputError, ArchiveError, RecorderError, ImportError, OSError) as exc:
        return _fail("import-tb", exc)
    for r in results:
        print(f"{r.run_id}: {r.scalars} scalars in {len(r.tags)} tags, {r.restarts} restart(s) -> "
              f"{r.record.identifier} v{r.record.version} ({r.record.path})")
    return 0


def run_tail(args: argparse.Namespace) -> int:
    from curvewatch.integrations.tensorboard import LogdirFollower, TensorBoardInputError

    if args.interval <= 0 or args.rescan <= 0:
        print("curvewatch tail-tb: --interval and --rescan must be more than 0 seconds.", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        follower = LogdirFollower(args.logdir, budget=args.budget, rescan=args.rescan)
        follower.poll()
        follower.exporter.start(args.port, args.addr, sd_file=args.sd_file)
    except (TensorBoardInputError, ImportError, OSError, ValueError) as exc:
        return _fail("tail-tb", exc)
    stop = stop_on_signals()
    print(f"Following {args.logdir} ({len(follower.runs)} run(s) so far) on {follower.exporter.url} "
          "(Ctrl-C to stop)", flush=True)
    try:
        follower.run(stop, args.interval)
    finally:
        follower.exporter.stop()
    return 0
