"""``curvewatch versions list|show|verify|rebuild|delete``: inspect and audit the model archive.

Exit codes: 0 ok; 1 ``verify`` found problems, or ``rebuild`` named directories, files or versions it could
not index; 2 the command could not run (the message says why and what to do). Every sub-command takes
``--root``, ``--db-url`` and ``--json``.

- every_error_is_a_sentence: a version number out of range, a malformed identifier, a bad ``--db-url``
  (unparsable, unknown dialect, missing driver, unreachable) print one sentence and exit 2, no traceback.
- read_only_commands_create_no_registry: ``list``, ``show`` and ``verify`` on a SQLite registry that does
  not exist say so instead of creating it (or its directory); they open the archive read-only, so they
  never create or change a file, a folder or a table.
- verify_all_reports_every_version_past_broken_ones: a version that cannot be verified is one more report
  line, never the end of the command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from curvewatch.archive.settings import DB_URL_ENV, DEFAULT_ROOT, ROOT_ENV, default_db_url, default_root

from .provenance_text import provenance_lines, read_provenance

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


def _record_json(archive: Any, record: Any, with_curves: bool = False) -> dict[str, Any]:
    """``record.to_json()``, plus on a URL root the version's ``url`` (``path`` is this host's cached copy)."""
    out = record.to_json(with_curves=with_curves)
    if archive.url is not None:
        rel = record.path.relative_to(archive.root).as_posix()
        out = {**out, "url": f"{archive.url.rstrip('/')}/{rel}"}
    return out


def _cmd_list(archive: Any, args: argparse.Namespace) -> int:
    records = archive.list(identifier=args.identifier, model_type=args.model_type, status=args.status)
    if args.json:
        print(json.dumps([_record_json(archive, r) for r in records], indent=2))
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
    provenance = read_provenance(record.path)
    if args.json:
        print(json.dumps({**_record_json(archive, record, args.curves), "provenance": provenance}, indent=2))
        return 0
    for name, value in _record_json(archive, record).items():
        shown = _metrics_text(value) if name == "metrics_summary" else value
        print(f"{name + ':':<17} {shown if shown not in (None, '') else '-'}")
    for line in provenance_lines(provenance):
        print(line)
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
    report = []
    from curvewatch.archive import ArchiveError

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
    incomplete = 1 if result.skipped or result.unreadable or result.conflicts or result.tampered else 0
    if args.json:
        print(json.dumps({"versions": result.versions, "rows": result.rows, "skipped": result.skipped,
                          "unreadable": result.unreadable, "conflicts": result.conflicts,
                          "tampered": result.tampered}, indent=2))
        return incomplete
    print(f"Rebuilt versions.json ({len(result.versions)} identifiers) and the table ({result.rows} rows).")
    for path in result.skipped:
        print(f"  skipped {path}: not a model directory of the archive layout")
    for what in result.unreadable:
        print(f"  indexed without {what}: restore it, then run `curvewatch versions verify`")
    for name in result.conflicts:
        print(f"  not indexed {name}: another archive root sharing this registry indexed that version")
    for what in result.tampered:
        print(f"  indexed as tampered {what}: never the latest or best; restore the version from a copy you "
              "trust, or delete it")
    return incomplete


def _cmd_delete(archive: Any, args: argparse.Namespace) -> int:
    args.version = _version_number(args.version)
    archive.delete(args.identifier, args.version, force=args.force)
    if args.json:
        print(json.dumps({"deleted": {"identifier": args.identifier, "version": args.version}}))
    else:
        print(f"Deleted {args.identifier} v{args.version} (directory and row).")
    return 0


def _version_number(text: str, latest: bool = False) -> int:
    """A VERSION argument: the N of a ``v{N}`` directory (1 to 999999999), else a sentence."""
    from curvewatch.archive.naming import parse_version_dir

    version = parse_version_dir(f"v{text.strip()}") if isinstance(text, str) else None
    if version is None:
        what = "an integer or 'latest'" if latest else "an integer"
        raise SystemExit(f"VERSION must be {what} (a whole number from 1 to 999999999), got {text!r}.")
    return version


def _version_arg(text: str) -> int | str:
    return text if text == "latest" else _version_number(text, latest=True)


def _sqlite_file(archive_root: str, db_url: str | None) -> str | None:
    """The SQLite file of the registry (the default one next to the root, or a ``sqlite:`` URL), else None."""
    from curvewatch.archive.naming import REGISTRY_DB_FILE
    from sqlalchemy.engine import make_url

    if db_url is None:
        return os.path.join(os.path.dirname(os.path.abspath(archive_root)), REGISTRY_DB_FILE)
    url = make_url(db_url)
    return url.database if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") else None


def _db_url_problem(exc: BaseException) -> str | None:
    """The sentence for an unusable ``--db-url`` (None: not that kind of error)."""
    import sqlalchemy.exc as sa_exc

    if isinstance(exc, sa_exc.NoSuchModuleError):  # an ArgumentError too: test it first
        return "names a database curvewatch does not support; use postgresql+psycopg:// or sqlite://"
    if isinstance(exc, sa_exc.ArgumentError):
        return "is not a database URL; use e.g. postgresql+psycopg://user@host/db or sqlite:////path/registry.sqlite3"
    if isinstance(exc, ModuleNotFoundError):
        extra = " (pip install 'curvewatch[postgres]')" if exc.name and exc.name.startswith("psycopg") else ""
        return f"needs the Python driver {exc.name!r}, which is not installed{extra}"
    if isinstance(exc, sa_exc.OperationalError | sa_exc.DatabaseError):
        return f"cannot be used ({getattr(exc, 'orig', exc)})"
    return None


def _guarded(func: Any, *, read_only: bool = False) -> Any:
    def run(args: argparse.Namespace) -> int:
        from curvewatch.archive import ArchiveError, ModelArchive
        from curvewatch.archive.storage import root_url

        remote = root_url(args.root) is not None  # s3://...: the archive checks it (and needs --db-url)
        if not remote and not os.path.isdir(args.root):
            print(f"curvewatch versions: no archive at {args.root}; pass --root or set ${ROOT_ENV}.", file=sys.stderr)
            return 2
        try:
            sqlite_file = _sqlite_file(args.root, args.db_url) if read_only and not remote else None
            if sqlite_file is not None and not os.path.isfile(sqlite_file):
                print(f"curvewatch versions: no registry at {sqlite_file}; pass --db-url, or run `curvewatch "
                      f"versions rebuild --root {args.root}` to index the versions on disk.", file=sys.stderr)
                return 2
            with ModelArchive(args.root, db_url=args.db_url, read_only=read_only) as archive:
                return func(archive, args)
        except ArchiveError as exc:
            print(f"curvewatch versions: {exc}", file=sys.stderr)
            return 2
        except SystemExit as exc:
            print(exc.code, file=sys.stderr)
            return 2
        except Exception as exc:
            problem = _db_url_problem(exc)
            if problem is None:
                raise
            print(f"curvewatch versions: the registry {args.db_url or 'URL'} {problem}; check --db-url "
                  f"(or ${DB_URL_ENV}).", file=sys.stderr)
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
    p.add_argument("version", help="an integer from 1")
    p.add_argument("--force", action="store_true", help="also delete a reserved (maybe training) version")
    p.set_defaults(func=_guarded(_cmd_delete))
