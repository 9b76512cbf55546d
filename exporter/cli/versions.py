"""``curvewatch versions list|show|verify|rebuild|delete``: inspect and audit the model archive.

Exit codes: 0 ok; 1 ``verify`` found problems, or ``rebuild`` named directories, files or versions it could
not index;
2 the command could not run (the message says why and
what to do). Every sub-command takes ``--root``, ``--db-url`` and ``--json``. ``list``, ``show`` and
``verify`` open the archive read-only: they never create or change a file, a folder or a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from curvewatch.archive.settings import DB_URL_ENV, DEFAULT_ROOT, ROOT_ENV, default_db_url, default_root

__all__ = ["register"]

_LIST_COLUMNS = ("identifier", "version", "status", "model_type", "created_at", "best_step", "metrics")


def _print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "-" for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _metrics_text(summary: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(summary.items()))


def _cmd_list(archive: Any, args: argparse.Namespace) -> int:
    records = archive.list(identifier=args.identifier, model_type=args.model_type, status=args.status)
    if args.json:
        print(json.dumps([r.to_json() for r in records], indent=2))
        return 0
    if not records:
        print(f"No versions in the registry of {args.root}; train a model or run `curvewatch versions rebuild`.")
        return 0
    rows = [
        {
            **r.to_json(),
            "created_at": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "metrics": _metrics_text(r.metrics_summary),
        }
        for r in records
    ]
    _print_table(rows, _LIST_COLUMNS)
    return 0


def _cmd_show(archive: Any, args: argparse.Namespace) -> int:
    record = archive.get(args.identifier, _version_arg(args.version))
    if args.json:
        print(json.dumps(record.to_json(with_curves=args.curves), indent=2))
        return 0
    for name, value in record.to_json().items():
        shown = _metrics_text(value) if name == "metrics_summary" else value
        print(f"{name + ':':<17} {shown if shown not in (None, '') else '-'}")
    return 0


def _targets(archive: Any, args: argparse.Namespace) -> list[tuple[str, int]]:
    if args.all:
        return [(r.identifier, r.version) for r in archive.list() if r.status == "complete"]
    if not args.identifier:
        raise SystemExit("curvewatch versions verify: give an IDENTIFIER [VERSION], or --all.")
    from curvewatch.archive import ModelKey
    from curvewatch.archive.verify import resolve_version

    return [(args.identifier, resolve_version(archive, ModelKey.parse(args.identifier), _version_arg(args.version)))]


def _cmd_verify(archive: Any, args: argparse.Namespace) -> int:
    from curvewatch.archive import ArchiveError

    report = []
    for identifier, version in _targets(archive, args):
        try:
            problems = archive.verify(identifier, version)
        except ArchiveError as exc:  # one broken version never stops --all
            problems = [str(exc)]
        report.append({"identifier": identifier, "version": version, "ok": not problems, "problems": problems})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for item in report:
            name = f"{item['identifier']} v{item['version']}"
            print(f"{name}: ok" if item["ok"] else f"{name}: {len(item['problems'])} problem(s)")
            for problem in item["problems"]:
                print(f"  - {problem}")
        if not report:
            print("No complete versions to verify.")
    return 0 if all(item["ok"] for item in report) else 1


def _cmd_rebuild(archive: Any, args: argparse.Namespace) -> int:
    result = archive.rebuild()
    if args.json:
        print(json.dumps({"versions": result.versions, "rows": result.rows, "skipped": result.skipped,
                          "unreadable": result.unreadable, "conflicts": result.conflicts}, indent=2))
        return 1 if result.skipped or result.unreadable or result.conflicts else 0
    print(f"Rebuilt versions.json ({len(result.versions)} identifiers) and the table ({result.rows} rows).")
    for path in result.skipped:
        print(f"  skipped {path}: not a model directory of the archive layout")
    for what in result.unreadable:
        print(f"  indexed without {what}: restore it, then run `curvewatch versions verify`")
    for name in result.conflicts:
        print(f"  not indexed {name}: another archive root sharing this registry indexed that version")
    return 1 if result.skipped or result.unreadable or result.conflicts else 0


def _cmd_delete(archive: Any, args: argparse.Namespace) -> int:
    version = _version_arg(args.version)
    if version == "latest":
        raise SystemExit("curvewatch versions delete: name the VERSION to delete (an integer), not 'latest'.")
    archive.delete(args.identifier, version, force=args.force)
    if args.json:
        print(json.dumps({"deleted": {"identifier": args.identifier, "version": args.version}}))
    else:
        print(f"Deleted {args.identifier} v{args.version} (directory and row).")
    return 0


def _version_arg(text: str) -> int | str:
    from curvewatch.archive.naming import MAX_VERSION, STARTING_VERSION

    if text == "latest":
        return text
    if not text.isascii() or not text.isdigit() or not STARTING_VERSION <= int(text[:12]) <= MAX_VERSION:
        raise SystemExit(f"VERSION must be 'latest' or an integer from {STARTING_VERSION} to {MAX_VERSION}, "
                         f"got {text[:40]!r}.")
    return int(text)


def _guarded(func: Any, read_only: bool = False) -> Any:
    def run(args: argparse.Namespace) -> int:
        from curvewatch.archive import ArchiveError, ModelArchive
        from sqlalchemy.exc import OperationalError, SQLAlchemyError

        if not os.path.isdir(args.root):
            print(f"curvewatch versions: no archive at {args.root}; pass --root or set ${ROOT_ENV}.", file=sys.stderr)
            return 2
        try:
            with ModelArchive(args.root, db_url=args.db_url, read_only=read_only) as archive:
                return func(archive, args)
        except OperationalError as exc:
            print(f"curvewatch versions: cannot use the registry ({exc.orig}); check --db-url.", file=sys.stderr)
            return 2
        except SQLAlchemyError as exc:
            reason = str(exc).splitlines()[0][:200]
            print(f"curvewatch versions: the registry refused the request ({reason}); check --db-url, or run "
                  "`curvewatch versions rebuild`.", file=sys.stderr)
            return 2
        except ArchiveError as exc:
            print(f"curvewatch versions: {exc}", file=sys.stderr)
            return 2
        except SystemExit as exc:
            print(exc.code, file=sys.stderr)
            return 2

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``versions`` and its sub-commands."""
    versions = subparsers.add_parser("versions", help="list, show, verify, rebuild or delete archived models")
    sub = versions.add_subparsers(dest="versions_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        default=default_root(),
        help=f"archive root (default: ${ROOT_ENV} or {DEFAULT_ROOT})",
    )
    common.add_argument(
        "--db-url",
        default=default_db_url(),
        help=f"registry SQLAlchemy URL (default: ${DB_URL_ENV} or a SQLite file next to the root)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("list", parents=[common], help="list versions (filters combine)")
    p.add_argument("--identifier")
    p.add_argument("--model-type")
    p.add_argument("--status", choices=("reserved", "complete", "failed"))
    p.set_defaults(func=_guarded(_cmd_list, read_only=True))

    p = sub.add_parser("show", parents=[common], help="show one version")
    p.add_argument("identifier")
    p.add_argument("version", nargs="?", default="latest", help="an integer or 'latest' (default)")
    p.add_argument("--curves", action="store_true", help="include the curves document (with --json)")
    p.set_defaults(func=_guarded(_cmd_show, read_only=True))

    p = sub.add_parser("verify", parents=[common], help="recompute digests and check the curves schema")
    p.add_argument("identifier", nargs="?")
    p.add_argument("version", nargs="?", default="latest", help="an integer or 'latest' (default)")
    p.add_argument("--all", action="store_true", help="verify every complete version")
    p.set_defaults(func=_guarded(_cmd_verify, read_only=True))

    p = sub.add_parser("rebuild", parents=[common], help="rebuild versions.json and the table from the tree")
    p.set_defaults(func=_guarded(_cmd_rebuild))

    p = sub.add_parser("delete", parents=[common], help="delete one version's directory and row")
    p.add_argument("identifier")
    p.add_argument("version", help="an integer")
    p.add_argument("--force", action="store_true", help="also delete a reserved (maybe training) version")
    p.set_defaults(func=_guarded(_cmd_delete))
