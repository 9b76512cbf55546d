"""``curvewatch compare`` and ``curvewatch report``: archived curves as a PNG overlay or an offline HTML page.

    curvewatch compare product_P001_all_mlstm:1 product_P001_all_mlstm:2 [--metric val_loss] --out compare.png
    curvewatch report product_P001_all_mlstm[:3] --out report.html
    curvewatch report saved_models/.../v3/curves.json --out report.html

A spec is ``ID``, ``ID:N`` or ``ID:latest`` in the registry (``--root`` / ``--db-url``, SQLite or PostgreSQL),
or the path of a curves.json file. Exit codes: 0 written; 2 it could not be (the message says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from curvewatch.archive.settings import DB_URL_ENV, DEFAULT_ROOT, ROOT_ENV, default_db_url, default_root

__all__ = ["register"]

_SPEC_HELP = "ID, ID:N or ID:latest in the registry, or a curves.json path"


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=default_root(), help=f"archive root (default: ${ROOT_ENV} or {DEFAULT_ROOT})")
    common.add_argument("--db-url", default=default_db_url(),
                        help=f"registry SQLAlchemy URL (default: ${DB_URL_ENV} or a SQLite file next to the root)")
    return common


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``report``."""
    p = subparsers.add_parser("compare", parents=[_common()], help="overlay archived versions against step (PNG)",
                              description="Overlay versions' curves against step, one panel per metric; best "
                              "points are stars, log scale where the chart is, outliers marked at the edge.")
    p.add_argument("specs", nargs="+", metavar="ID[:VERSION]", help=_SPEC_HELP)
    p.add_argument("--metric", action="append", help="a metric to draw (repeatable; default: every metric)")
    p.add_argument("--out", type=Path, default=Path("compare.png"), help="the PNG to write (default compare.png)")
    p.set_defaults(func=_run(_compare))
    p = subparsers.add_parser("report", parents=[_common()], help="one version as an offline, interactive HTML page",
                              description="Write one self-contained HTML page (plotly.js inlined) with every chart "
                              "of a version, its best point, metadata and manifest check.")
    p.add_argument("spec", metavar="ID[:VERSION]", help=_SPEC_HELP)
    p.add_argument("--out", type=Path, default=Path("report.html"), help="the page to write (default report.html)")
    p.set_defaults(func=_run(_report))


def _compare(sources, args: argparse.Namespace) -> str:  # noqa: ANN001 - Sources, imported lazily
    from curvewatch.views import compare_png

    drawn = compare_png([sources.load(s) for s in args.specs], args.out, args.metric)
    return f"wrote {args.out}: {len(args.specs)} version(s), {len(drawn)} metric(s) ({', '.join(drawn)})"


def _report(sources, args: argparse.Namespace) -> str:  # noqa: ANN001
    from curvewatch.views import write_report

    loaded = sources.load(args.spec)
    write_report(loaded, args.out)
    state = "not checked" if loaded.problems is None else ("intact" if not loaded.problems else "PROBLEMS")
    return f"wrote {args.out}: {loaded.label}, {len(loaded.doc['charts'])} chart(s), manifest {state}"


def _run(action):  # noqa: ANN001, ANN202
    def run(args: argparse.Namespace) -> int:
        from curvewatch.archive import ArchiveError
        from curvewatch.views import Sources, ViewError
        from sqlalchemy.exc import OperationalError

        name = f"curvewatch {args.command}"
        try:
            with Sources(args.root, db_url=args.db_url) as sources:
                print(action(sources, args))
        except OperationalError as exc:
            print(f"{name}: cannot use the registry ({exc.orig}); check --db-url.", file=sys.stderr)
            return 2
        except (ViewError, ArchiveError, OSError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 2
        return 0

    return run
