"""Self-registration with Prometheus file-based service discovery (``file_sd_configs``).

A trainer writes ``<targets dir>/<run>.json`` = ``[{"targets": ["host:port"], "labels": {...}}]``
when its endpoint starts and deletes it when the endpoint stops (after the final state was scraped:
``exporter/prom/final_state.py``), so Prometheus scrapes it while it runs and sees how it ended, and a
finished run does not look like a target that is down. The labels name the run
(``curvewatch_run_id``, ``curvewatch_rank``) so that ``up == 0`` says which run went away. The generated
``prometheus/prometheus.yml`` reads ``prometheus/targets/*.json``.

Guarantee (test named after it in tests/test_prom_endpoint.py):
- target_files_are_never_read_half_written: a target file is written under a temporary name that ends
  in ``.tmp`` (not ``.json``/``.yml``, which Prometheus' glob would read) and then renamed onto its name.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from curvewatch._atomic import atomic_write_text
from curvewatch.prom._names import BEST_LABELS, INFO_LABELS, LINE_LABELS, RUN_LABELS, STATE_LABEL

__all__ = ["TargetFile", "check_target_labels", "sd_target_address", "target_address"]


def target_address(addr: str, port: int) -> str:
    """The ``host:port`` Prometheus should scrape: this host's name when serving on every interface."""
    host = socket.getfqdn() if addr in ("0.0.0.0", "::", "") else addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sd_target_address(sd_address: str | None, addr: str, port: int) -> str:
    """The ``host:port`` to register: ``sd_address`` whose port must be the real one (without one, it is added)."""
    if not sd_address:
        return target_address(addr, port)
    host, sep, given = sd_address.rpartition(":")
    if not sep or not given.isdigit() or host.endswith(":") or host == "":  # no port (IPv6 needs [..]:port)
        return target_address(sd_address, port)
    if int(given) != port:
        raise ValueError(f"sd_address {sd_address!r} names port {given} but the endpoint serves on port {port}; "
                         f"pass sd_address={host!r} (the real port is added) or the real port.")
    return sd_address


def check_target_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """``labels`` unless one would collide with a label of curvewatch's own series (it would be renamed
    ``exported_<name>`` on every series of the target)."""
    reserved = {*RUN_LABELS, *INFO_LABELS, *LINE_LABELS, *BEST_LABELS, STATE_LABEL, "job", "instance"}
    clash = sorted(set(labels) & reserved)
    if clash:
        raise ValueError(f"Target label(s) {clash} collide with curvewatch's own labels "
                         f"({', '.join(sorted(reserved))}) and would be renamed exported_<name>; "
                         "choose other names, e.g. 'site' or 'cluster'.")
    return dict(labels)


class TargetFile:
    """One file_sd target file, written atomically and removed on :meth:`remove`."""

    def __init__(self, path: str | os.PathLike[str], address: str, labels: Mapping[str, str] | None = None):
        self.path = Path(path)
        if self.path.suffix not in (".json", ".yml", ".yaml"):
            raise ValueError(f"A file_sd target file must end in .json, got {self.path.name!r}; "
                             "Prometheus reads targets/*.json.")
        self.address = address
        self.labels = check_target_labels(labels or {})

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps([{"targets": [self.address], "labels": self.labels}], indent=2, sort_keys=True)
        atomic_write_text(self.path, body + "\n", temp_suffix=".tmp")  # never matched by targets/*.json
        return self.path

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
