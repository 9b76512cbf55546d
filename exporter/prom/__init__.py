"""Prometheus exposure of curvewatch recorders: a custom collector read at scrape time, an HTTP(S)
endpoint, Pushgateway pushes for short jobs, and the torchrun rank rules.

Metric names and labels: the table in docs/ARCHITECTURE.md (constants in ``exporter.prom._names``).
"""

from exporter.prom._names import RUN_STATES
from exporter.prom.collector import CurveCollector
from exporter.prom.discovery import TargetFile
from exporter.prom.errors import CertificateFileError, InvalidLabelValueError, PortInUseError, PushError
from exporter.prom.exporter import Exporter
from exporter.prom.ranks import endpoint_port
from exporter.prom.run_info import RunInfo, local_rank_from_env, rank_from_env
from exporter.prom.server import MetricsServer
from exporter.prom.watch import Watch, watch

__all__ = [
    "RUN_STATES",
    "CertificateFileError",
    "CurveCollector",
    "Exporter",
    "InvalidLabelValueError",
    "MetricsServer",
    "PortInUseError",
    "PushError",
    "RunInfo",
    "TargetFile",
    "Watch",
    "endpoint_port",
    "local_rank_from_env",
    "rank_from_env",
    "watch",
]
