"""The ``curvewatch`` command line: one sub-command module per area.

Each module in ``_COMMAND_MODULES`` has ``register(subparsers)`` that adds its
sub-commands and sets ``func`` (taking the parsed ``argparse.Namespace`` and
returning an exit code) on each parser.

Guarantee (test named after it in tests/test_library_cli.py):
- a_closed_pipe_ends_quietly: when the reader of the output goes away (``curvewatch versions show ... | head``)
  the command stops with exit status ``SIGPIPE_EXIT`` and no traceback, as ``git`` and ``cat`` do.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["SIGPIPE_EXIT", "build_parser", "main"]

SIGPIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away

_COMMAND_MODULES = (
    "curvewatch.cli.demo",  # curvewatch demo
    "curvewatch.cli.versions",  # curvewatch versions list|show|verify|rebuild|delete
    "curvewatch.trainers.cli",  # curvewatch train | predict | models (the bundled forecasters)
    "curvewatch.cli.monitoring",  # curvewatch monitoring generate [--check]
    "curvewatch.cli.serve",  # curvewatch serve (exporter endpoint over a curves.json)
    "curvewatch.cli.views",  # curvewatch compare | report (archived curves as a PNG overlay / an HTML page)
    "curvewatch.cli.tensorboard",  # curvewatch import-tb | tail-tb (TensorBoard logdirs)
    "curvewatch.cli.sd_server",  # curvewatch sd-server (HTTP service discovery from the registry)
    "curvewatch.cli.serve_model",  # curvewatch serve-model (a version over HTTP: live error, drift, canary)
)


def _version() -> str:
    """The installed distribution's version (the package's own when run from a source tree)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("curvewatch")
    except importlib.metadata.PackageNotFoundError:
        from curvewatch import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curvewatch",
        description="Watch, keep and audit PyTorch training curves.",
    )
    parser.add_argument("--version", action="version", version=f"curvewatch {_version()}",
                        help="print curvewatch's version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # an area not installed in this build
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # an argument of undecodable bytes (\udcff) is echoed, not fatal
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(errors="backslashreplace")
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be caught (also after --help's exit)
    except BrokenPipeError:
        # the reader went away (`| head`): nothing more can be said to it, and flushing stdout at exit must not
        # raise again, so stdout now writes to /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return SIGPIPE_EXIT


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:  # an optional extra is not installed: say which one
        from curvewatch.extras import MissingExtraError

        error = MissingExtraError.of(exc, f"curvewatch {args.command}")
        if not isinstance(error, MissingExtraError):
            raise
        print(f"curvewatch {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
