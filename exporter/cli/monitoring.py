"""``curvewatch monitoring generate [--check]``: write (or check) prometheus/, grafana/ and docker-compose.yml."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    monitoring = subparsers.add_parser(
        "monitoring", help="generate the Prometheus rules, Grafana dashboards and docker-compose stack",
        description="The monitoring bundle is generated from one config (exporter/monitoring/config.py).",
    )
    commands = monitoring.add_subparsers(dest="monitoring_command", metavar="COMMAND")
    generate = commands.add_parser(
        "generate", help="write the generated files (or, with --check, verify them)",
        description="Write prometheus/, grafana/ and docker-compose.yml under --root from the config. "
        "Example: curvewatch monitoring generate --set stall_seconds=600 --set stall_for=10m",
    )
    generate.add_argument("--root", default=".", help="repository root to write under (default: current directory)")
    generate.add_argument("--check", action="store_true",
                          help="write nothing; exit 1 when a committed file differs from the generator's output")
    generate.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                          help="override one config field (repeatable), e.g. --set divergence_factor=5")
    generate.set_defaults(func=_generate)
    monitoring.set_defaults(func=lambda args: _usage(monitoring))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _generate(args: argparse.Namespace) -> int:
    try:
        from curvewatch.monitoring import DEFAULT_CONFIG, check_files, generate_files, write_files
    except ModuleNotFoundError as exc:
        if exc.name != "grafana_foundation_sdk":
            raise
        print("curvewatch monitoring generate: error: the dashboards are built with grafana-foundation-sdk, "
              "which is not installed; run: pip install 'grafana-foundation-sdk==1769699379!11.6.0'.",
              file=sys.stderr)
        return 2

    try:
        overrides = dict(item.split("=", 1) for item in args.overrides)
    except ValueError:
        print("curvewatch monitoring generate: error: --set takes NAME=VALUE, e.g. --set stall_seconds=600.",
              file=sys.stderr)
        return 2
    try:
        config = DEFAULT_CONFIG.with_overrides(overrides)
    except (ValueError, TypeError) as exc:
        print(f"curvewatch monitoring generate: error: {exc}", file=sys.stderr)
        return 2
    root = Path(args.root)
    files = generate_files(config)
    if args.check:
        stale = check_files(root, files)
        if stale:
            print("These generated files differ from the config; run `curvewatch monitoring generate` "
                  "and commit the result:\n  " + "\n  ".join(stale), file=sys.stderr)
            return 1
        print(f"All {len(files)} generated monitoring files are up to date.")
        return 0
    written = write_files(root, files)
    print(f"Wrote {len(written)} files under {root.resolve()}.")
    return 0
