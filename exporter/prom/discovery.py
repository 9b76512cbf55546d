"""Self-registration with Prometheus file-based service discovery (``file_sd_configs``).

A trainer writes ``<targets dir>/<run>.json`` = ``[{"targets": ["host:port"], "labels": {...}}]``
when its endpoint starts and deletes it when the endpoint stops, so Prometheus scrapes it while it
runs and a finished run does not look like a target that is down. The generated
``prometheus/prometheus.yml`` reads ``prometheus/targets/*.json``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from curvewatch._atomic import atomic_write_text

__all__ = ["TargetFile", "target_address"]


def target_address(addr: str, port: int) -> str:
    """The ``host:port`` Prometheus should scrape: this host's name when serving on every interface."""
    host = socket.getfqdn() if addr in ("0.0.0.0", "::", "") else addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TargetFile:
    """One file_sd target file, written atomically and removed on :meth:`remove`."""

    def __init__(self, path: str | os.PathLike[str], address: str, labels: Mapping[str, str] | None = None):
        self.path = Path(path)
        if self.path.suffix not in (".json", ".yml", ".yaml"):
            raise ValueError(f"A file_sd target file must end in .json, got {self.path.name!r}; "
                             "Prometheus reads targets/*.json.")
        self.address = address
        self.labels = dict(labels or {})

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps([{"targets": [self.address], "labels": self.labels}], indent=2, sort_keys=True)
        atomic_write_text(self.path, body + "\n")
        return self.path

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
