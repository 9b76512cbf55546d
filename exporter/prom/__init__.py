"""Prometheus exposure of curvewatch recorders: a custom collector read at scrape time, an HTTP(S)
endpoint, Pushgateway pushes for short jobs, and the torchrun rank rules.

Metric names and labels: the table in docs/ARCHITECTURE.md (constants in ``exporter.prom._names``).
"""

from curvewatch.prom._names import RUN_STATES
from curvewatch.prom.collector import CurveCollector
from curvewatch.prom.discovery import TargetFile
from curvewatch.prom.errors import CertificateFileError, InvalidLabelValueError, PortInUseError, PushError
from curvewatch.prom.exporter import Exporter
from curvewatch.prom.ranks import endpoint_port
from curvewatch.prom.run_info import RunInfo, local_rank_from_env, rank_from_env
from curvewatch.prom.server import MetricsServer
from curvewatch.prom.watch import Watch, watch

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
