"""``curvewatch sd-server``: serve the registry's live trainer endpoints to Prometheus' ``http_sd_configs``."""

from __future__ import annotations

import argparse
import errno
import sys

from curvewatch.cli._signals import stop_on_signals

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from curvewatch.archive.settings import DB_URL_ENV
    from curvewatch.discovery.settings import MAX_AGE_S, SD_ADDR, SD_PATH, SD_PORT

    parser = subparsers.add_parser(
        "sd-server",
        help="serve the trainers registered in the shared registry as Prometheus HTTP SD targets",
        description="Serve GET /targets in Prometheus' HTTP service discovery format: one target per trainer "
        "endpoint registered with a recent heartbeat (Exporter.start(registry_url=...)); older entries are "
        f"deleted. Prometheus: http_sd_configs: [{{url: 'http://HOST:{SD_PORT}{SD_PATH}'}}].",
    )
    parser.add_argument("--db-url", help=f"the shared registry (default: ${DB_URL_ENV}), "
                        "e.g. postgresql+psycopg://user@db-host/curvewatch")
    parser.add_argument("--addr", default=SD_ADDR, help=f"address to listen on (default {SD_ADDR}; "
                        "0.0.0.0 for a Prometheus on another host)")
    parser.add_argument("--port", type=int, default=SD_PORT,
                        help=f"port to listen on (default {SD_PORT}; 0: a free one)")
    parser.add_argument("--max-age", type=float, default=MAX_AGE_S,
                        help=f"seconds after its last heartbeat an entry expires (default {MAX_AGE_S:g})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from curvewatch.archive.settings import DB_URL_ENV, default_db_url
    from curvewatch.discovery import SDServer

    db_url = args.db_url or default_db_url()
    if not db_url:
        print(f"curvewatch sd-server: error: pass --db-url (or set ${DB_URL_ENV}) with the registry the trainers "
              "register in.", file=sys.stderr)
        return 2
    try:
        server = SDServer(db_url, addr=args.addr, port=args.port, max_age=args.max_age)
    except OSError as exc:
        hint = " choose another --port" if exc.errno == errno.EADDRINUSE else " check --addr"
        print(f"curvewatch sd-server: error: cannot listen on {args.addr}:{args.port} ({exc.strerror});{hint}.",
              file=sys.stderr)
        return 1
    except (ValueError, sa.exc.SQLAlchemyError, ModuleNotFoundError) as exc:
        print(f"curvewatch sd-server: error: cannot open the registry {db_url!r}: {exc}", file=sys.stderr)
        return 1
    stop = stop_on_signals()
    server.start()
    print(f"Serving the live registrations on {server.url} (entries expire {args.max_age:g}s after their last "
          "heartbeat; Ctrl-C to stop)", flush=True)
    stop.wait()
    server.stop()
    server.registry.dispose()
    return 0
