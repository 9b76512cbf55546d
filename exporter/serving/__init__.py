"""Production monitoring of served model versions (docs/SERVING.md).

A :class:`ModelMonitor` wraps one archived version: predictions are timed and counted, actuals that
arrive later are joined with them (bounded :class:`PendingStore`), the live error over a window is
compared with the archived validation error, and the recent inputs with the version's reference
profile (PSI/KS). A :class:`Router` splits traffic over a primary, canaries and shadows; the
:class:`ServingService` puts both behind HTTP (``curvewatch serve-model``).
"""

from ._names import LATENCY_BUCKETS, PROFILE_FILE, ROLES
from .collector import ServingCollector
from .drift import DriftScore, DriftWindow, ks_statistic, psi
from .errors import ServingError, ServingInputError
from .live_error import LiveErrorWindow
from .monitor import ModelMonitor, validation_errors
from .pending import PendingStore
from .profile import FeatureProfile, ReferenceProfile, compute_profile, read_profile, write_profile
from .router import Arm, Route, Router, new_id
from .service import ENDPOINTS, Prepared, ServingService

__all__ = [
    "ENDPOINTS",
    "LATENCY_BUCKETS",
    "PROFILE_FILE",
    "ROLES",
    "Arm",
    "DriftScore",
    "DriftWindow",
    "FeatureProfile",
    "LiveErrorWindow",
    "ModelMonitor",
    "PendingStore",
    "Prepared",
    "ReferenceProfile",
    "Route",
    "Router",
    "ServingCollector",
    "ServingError",
    "ServingInputError",
    "ServingService",
    "compute_profile",
    "ks_statistic",
    "new_id",
    "psi",
    "read_profile",
    "validation_errors",
    "write_profile",
]
