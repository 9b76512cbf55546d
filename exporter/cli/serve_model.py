"""``curvewatch serve-model``: serve an archived forecaster version over HTTP, with a canary or shadows.

    curvewatch serve-model --version-path saved_models/product/P001_all/tcn/v3 \\
        --canary saved_models/product/P001_all/tcn/v4 --weight 0.1 --port 8080

Prints ``curvewatch serve-model: serving ... at http://ADDR:PORT`` (one line, flushed: tests and scripts
read the port from it), then each version's role and whether its drift is available, and serves
``POST /predict``, ``POST /actuals``, ``GET /metrics``, ``GET /versions`` and ``GET /healthz`` until
SIGINT/SIGTERM (docs/SERVING.md). ``--targets-dir prometheus/serving-targets`` registers the service with
the generated ``curvewatch-serving`` scrape job (file-based discovery): the target file is written once the
port is known and removed when the service stops.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from curvewatch.cli._signals import stop_on_signals

__all__ = ["register", "run"]

_PREFIX = "curvewatch serve-model"


def register(subparsers: argparse._SubParsersAction) -> None:
    from curvewatch.serving._names import (
        DEFAULT_DRIFT_ROWS,
        DEFAULT_PENDING_LIMIT,
        DEFAULT_PENDING_TTL_S,
        DEFAULT_WINDOW,
        DEFAULT_WINDOW_S,
    )

    parser = subparsers.add_parser(
        "serve-model", help="serve an archived forecaster version over HTTP, monitored (canary, shadow)",
        description="Serve a committed version of the bundled forecasters: POST /predict, POST /actuals, "
        "GET /metrics (latency, live error against the arriving actuals, drift against the training profile, "
        "per version and role). See docs/SERVING.md.")
    parser.add_argument("--version-path", required=True, type=Path, help="the primary version's directory")
    parser.add_argument("--canary", type=Path, help="a canary version's directory (gets --weight of the requests)")
    parser.add_argument("--weight", type=float, default=0.1, help="the canary's share of requests (default 0.1)")
    parser.add_argument("--shadow", type=Path, action="append", default=[],
                        help="a shadow version's directory (predicts every request, scored, never answers); repeatable")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    parser.add_argument("--addr", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--pending-limit", type=int, default=DEFAULT_PENDING_LIMIT,
                        help=f"predictions kept waiting for their actuals (default {DEFAULT_PENDING_LIMIT})")
    parser.add_argument("--pending-ttl", type=float, default=DEFAULT_PENDING_TTL_S,
                        help=f"seconds a prediction waits for its actual (default {DEFAULT_PENDING_TTL_S:g})")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW,
                        help=f"joined predictions in the live error window (default {DEFAULT_WINDOW})")
    parser.add_argument("--window-seconds", type=float, default=DEFAULT_WINDOW_S,
                        help=f"... joined within this many seconds (default {DEFAULT_WINDOW_S:g})")
    parser.add_argument("--drift-rows", type=int, default=DEFAULT_DRIFT_ROWS,
                        help=f"recent input rows compared with the training profile (default {DEFAULT_DRIFT_ROWS})")
    parser.add_argument("--targets-dir", type=Path,
                        help="write a Prometheus file_sd target file here while serving (e.g. "
                        "prometheus/serving-targets, read by the generated curvewatch-serving job)")
    parser.add_argument("--sd-address", help="host[:port] Prometheus should scrape (default: --addr and the port)")
    parser.add_argument("--no-verify", action="store_true", help="skip the manifest check before loading (experts)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from curvewatch.archive import ArchiveError, local_copy
    from curvewatch.prom.discovery import TargetFile, sd_target_address
    from curvewatch.serving import ServingError, ServingInputError, ServingService
    from curvewatch.trainers.serving import ForecasterModel

    if args.canary is None and args.weight != 0.1:
        print(f"{_PREFIX}: error: --weight is the canary's share; pass --canary PATH with it.", file=sys.stderr)
        return 2
    options = {"pending_limit": args.pending_limit, "pending_ttl_s": args.pending_ttl, "window": args.window,
               "window_s": args.window_seconds, "drift_rows": args.drift_rows}
    try:
        args.version_path, args.canary = local_copy(args.version_path), args.canary and local_copy(args.canary)
        args.shadow = [local_copy(p) for p in args.shadow]  # version URLs (s3://...): this host's copies
        versions = [(ForecasterModel(args.version_path, verify=not args.no_verify), "primary", 0.0)]
        if args.canary is not None:
            versions.append((ForecasterModel(args.canary, verify=not args.no_verify), "canary", args.weight))
        versions += [(ForecasterModel(p, verify=not args.no_verify), "shadow", 0.0) for p in args.shadow]
        service = ServingService(versions, addr=args.addr, port=args.port, monitor_options=options)
        port = service.start()
    except (ServingError, ServingInputError, ValueError, OSError, ArchiveError) as exc:
        print(f"{_PREFIX}: error: {exc}", file=sys.stderr)
        return 2
    target = None
    if args.targets_dir is not None:
        primary = service.versions()["versions"][0]
        name = f"{primary['identifier']}-v{primary['model_version']}-{port}.json"
        try:
            target = TargetFile(args.targets_dir / name, sd_target_address(args.sd_address, args.addr, port))
            target.write()
        except (ValueError, OSError) as exc:
            service.stop()
            print(f"{_PREFIX}: error: cannot register in --targets-dir {args.targets_dir}: {exc}", file=sys.stderr)
            return 2
    stop = stop_on_signals()
    print(f"{_PREFIX}: serving {len(versions)} version(s) at {service.url} (Ctrl-C to stop)", flush=True)
    for entry in service.versions()["versions"]:
        print(f"  {entry['name']}: {entry['role']}, weight {entry['weight']:g}, drift {entry['drift']}", flush=True)
    if target is not None:
        print(f"  registered for Prometheus in {target.path}", flush=True)
    stop.wait()
    if target is not None:
        target.remove()
    service.stop()
    return 0
