"""The monitoring bundle: one config (``config.py``) generates prometheus/, grafana/ and docker-compose.yml.

>>> from curvewatch.monitoring import DEFAULT_CONFIG, generate_files, write_files
>>> write_files(repo_root, generate_files(DEFAULT_CONFIG.with_overrides({"stall_seconds": "600"})))
"""

from curvewatch.monitoring.alerts import ALERT_PREFIX, Alert, alerts
from curvewatch.monitoring.config import DEFAULT_CONFIG, MonitoringConfig, duration_seconds
from curvewatch.monitoring.dashboards import dashboards
from curvewatch.monitoring.generate import check_files, generate_files, write_files
from curvewatch.monitoring.promql import Queries, RecordingRule

__all__ = [
    "ALERT_PREFIX",
    "DEFAULT_CONFIG",
    "Alert",
    "MonitoringConfig",
    "Queries",
    "RecordingRule",
    "alerts",
    "check_files",
    "dashboards",
    "duration_seconds",
    "generate_files",
    "write_files",
]
