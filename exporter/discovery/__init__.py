"""Service discovery through the shared registry: trainers register their endpoint with a heartbeat,
``curvewatch sd-server`` serves the live ones to Prometheus' ``http_sd_configs``.

The table lives with the registry (``curvewatch.archive.registrations``); defaults in ``settings``.
"""

from curvewatch.discovery.heartbeat import EndpointRegistration
from curvewatch.discovery.http_sd import SDServer, target_groups
from curvewatch.discovery.settings import HEARTBEAT_INTERVAL_S, MAX_AGE_S, SD_PORT

__all__ = ["HEARTBEAT_INTERVAL_S", "MAX_AGE_S", "SD_PORT", "EndpointRegistration", "SDServer", "target_groups"]
