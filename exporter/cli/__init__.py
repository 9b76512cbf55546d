"""The ``curvewatch`` command line: one sub-command module per area.

Each module in ``_COMMAND_MODULES`` has ``register(subparsers)`` that adds its
sub-commands and sets ``func`` (taking the parsed ``argparse.Namespace`` and
returning an exit code) on each parser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = (
    "curvewatch.cli.demo",  # curvewatch demo
    "curvewatch.cli.versions",  # curvewatch versions list|show|verify|rebuild|delete
    "curvewatch.trainers.cli",  # curvewatch train | predict | models (the bundled forecasters)
    "curvewatch.cli.monitoring",  # curvewatch monitoring generate [--check]
    "curvewatch.cli.serve",  # curvewatch serve (exporter endpoint over a curves.json)
    "curvewatch.cli.sd_server",  # curvewatch sd-server (HTTP service discovery from the registry)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curvewatch",
        description="Watch, keep and audit PyTorch training curves.",
    )
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
