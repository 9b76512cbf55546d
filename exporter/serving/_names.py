"""Names and defaults of the serving area, in one place: metric names, labels, roles, limits, buckets.

Series are labelled like the training ones (``identifier``, ``model_version``) plus ``role``.
"""

from __future__ import annotations

PREFIX = "curvewatch_serving_"
LABELS = ("identifier", "model_version", "role")
ROLES = ("primary", "canary", "shadow")
PROFILE_FILE = "reference_profile.json"  # written beside metadata.json at commit, listed in the manifest
PROFILE_SCHEMA_VERSION = 1

# Latency buckets (seconds) for ms-scale models: 0.25 ms .. 5 s.
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Pending store: predictions waiting for their actuals.
DEFAULT_PENDING_LIMIT = 100_000  # entries; the oldest is evicted (and counted) beyond it
DEFAULT_PENDING_TTL_S = 3 * 86400.0  # a prediction not joined within this is expired (and counted)
EXPIRE_EVERY = 256  # predictions between two expiry sweeps (also swept at every scrape and join)

# Live error window: the last DEFAULT_WINDOW matched predictions, and only those joined within DEFAULT_WINDOW_S.
DEFAULT_WINDOW = 1000
DEFAULT_WINDOW_S = 7 * 86400.0
# Drift: the last DEFAULT_DRIFT_ROWS input rows are compared with the version's reference profile.
DEFAULT_DRIFT_ROWS = 2000
PROFILE_BINS = 10  # quantile bins per feature in a reference profile (bounded size: <= 11 numbers per list)
PSI_SMOOTHING = 0.5  # Laplace pseudo-count per bin, so an empty bin gives a finite PSI

# MAPE as the trainers define it: 100 * mean(|e| / max(|y|, MAPE_FLOOR)); a zero-sales day adds |e|.
MAPE_FLOOR = 1.0
REGRESSION_METRICS = ("mae", "rmse", "mape", "mase")
CLASSIFICATION_METRICS = ("accuracy",)
TASKS = ("regression", "classification")
