"""``curvewatch serve``: expose saved curves documents on a Prometheus endpoint until stopped.

A document inside an archive version directory is served as that run: run id ``{identifier}-v{N}`` and
the key's labels (see ``archived_run_info``), so it joins the live series of the same run; any other
document is named by its path.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from curvewatch.cli._signals import stop_on_signals

PASSWORD_ENV = "CURVEWATCH_BASIC_AUTH_PASSWORD"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="expose saved curves.json documents on a Prometheus endpoint",
        description="Serve the curvewatch_* metrics of saved curves documents (re-read when they change) "
        "until interrupted. A document's run is finished if it was finalized, running otherwise.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="CURVES_JSON")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    parser.add_argument("--addr", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--run-id", help="run id label (one document only; default: the archive's "
                        "{identifier}-v{N}, or the document's folder outside an archive)")
    parser.add_argument("--model-type", default=None, help="model_type label of curvewatch_run_info "
                        "(default: the archived version's, else empty)")
    parser.add_argument("--certfile", help="TLS certificate (PEM)")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument("--client-cafile", help="CA that signs client certificates (mutual TLS)")
    parser.add_argument("--client-auth-required", action="store_true", help="refuse clients without a certificate")
    parser.add_argument("--basic-auth-user", help=f"require basic auth; the password is read from ${PASSWORD_ENV}")
    parser.set_defaults(func=run)


def default_run_id(path: Path) -> str:
    """``a/b/v3/curves.json`` -> ``a/b/v3``; ``a/run.json`` -> ``a/run``."""
    path = Path(os.path.relpath(path.resolve()))
    return (path.parent if path.name == "curves.json" else path.with_suffix("")).as_posix()


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from curvewatch.archive import ArchiveError, local_copy
    from curvewatch.prom import Exporter, RunInfo
    from curvewatch.prom.document_source import DocumentSource, archived_run_info
    from curvewatch.recorder import CurveDocumentError

    if args.run_id and len(args.paths) > 1:
        print("curvewatch serve: --run-id names one document; drop it to name each by its folder.", file=sys.stderr)
        return 2
    basic_auth = None
    if args.basic_auth_user:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            print(f"curvewatch serve: --basic-auth-user needs the password in ${PASSWORD_ENV}.", file=sys.stderr)
            return 2
        basic_auth = (args.basic_auth_user, password)
    exporter = Exporter()
    try:
        args.paths = [local_copy(p) for p in args.paths]  # a version's URL (s3://...): this host's copy of it
        for path in args.paths:
            source = DocumentSource(path)
            info = archived_run_info(path) or RunInfo(run_id=default_run_id(path), rank=0)
            if args.run_id:
                info = dataclasses.replace(info, run_id=args.run_id)
            if args.model_type is not None:
                info = dataclasses.replace(info, model_type=args.model_type)
            exporter.add(source, info)
            if source.live().finalized:
                exporter.set_state("finished", info.run_id)
        exporter.start(
            args.port,
            args.addr,
            certfile=args.certfile,
            keyfile=args.keyfile,
            client_cafile=args.client_cafile,
            client_auth_required=args.client_auth_required,
            basic_auth=basic_auth,
        )
    except (OSError, ValueError, CurveDocumentError, ArchiveError) as exc:
        print(f"curvewatch serve: {exc}", file=sys.stderr)
        return 1
    stop = stop_on_signals()
    print(f"Serving {len(args.paths)} run(s) on {exporter.url} (Ctrl-C to stop)", flush=True)
    stop.wait()
    exporter.stop(grace=0)  # the documents were on show all along: no final-state grace
    return 0
