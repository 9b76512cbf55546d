"""Every default of HTTP service discovery through the registry, in one place.

- A trainer refreshes its row every ``HEARTBEAT_INTERVAL_S`` seconds.
- ``curvewatch sd-server`` serves rows younger than ``MAX_AGE_S`` (three missed heartbeats and a margin)
  and deletes older ones, so a killed trainer's target is gone ``MAX_AGE_S`` + one Prometheus refresh later.
- It listens on ``SD_ADDR``:``SD_PORT`` (9109: next to the trainers' 9108) and serves ``SD_PATH``.
"""

from __future__ import annotations

__all__ = [
    "CONNECT_TIMEOUT_S",
    "HEARTBEAT_ENV",
    "HEARTBEAT_INTERVAL_S",
    "MAX_AGE_S",
    "META_PREFIX",
    "REGISTRY_URL_ENV",
    "SD_ADDR",
    "SD_PATH",
    "SD_PORT",
    "WARN_EVERY_S",
]

# Every exporter started in a process with this variable set registers its endpoint there (one setting
# for every rank of a torchrun job, and for `curvewatch train`); Exporter.start(registry_url=...) wins.
REGISTRY_URL_ENV = "CURVEWATCH_SD_REGISTRY_URL"
HEARTBEAT_INTERVAL_S = 10.0
# ... or this many seconds from the environment (e.g. for every rank of a torchrun job); keep it well
# under the sd-server's --max-age.
HEARTBEAT_ENV = "CURVEWATCH_SD_HEARTBEAT_S"
MAX_AGE_S = 45.0
SD_ADDR = "127.0.0.1"
SD_PORT = 9109
SD_PATH = "/targets"
# Prometheus drops __meta_* labels after relabelling: run and rank are there for relabel rules, and never
# clash with the run_id/rank labels the endpoint itself exposes on every series.
META_PREFIX = "__meta_curvewatch_"
# Seconds a heartbeat waits to connect to PostgreSQL before it gives up until the next beat.
CONNECT_TIMEOUT_S = 10
# A trainer whose database is unreachable logs it at most this often (training goes on).
WARN_EVERY_S = 60.0
