"""Every naming rule and limit of the Prometheus exposure, in one place.

The metric table is the contract in docs/ARCHITECTURE.md; the monitoring bundle is generated against it.
"""

from __future__ import annotations

PREFIX = "curvewatch_"

# Labels every series carries (Prometheus adds job and instance).
RUN_LABELS = ("run_id", "rank")
# Extra labels of curvewatch_run_info, in this order.
INFO_LABELS = ("model_type", "mode", "scope", "version", "experiment", "host")
LINE_LABELS = ("chart", "metric")
BEST_LABELS = ("metric", "mode")
STATE_LABEL = "state"

RUN_INFO = PREFIX + "run"  # InfoMetricFamily appends _info
RUN_STATE = PREFIX + "run_state"
RUN_START_TIME = PREFIX + "run_start_time_seconds"
STEP = PREFIX + "step"
EPOCH = PREFIX + "epoch"
STEPS = PREFIX + "steps"  # CounterMetricFamily appends _total
LAST_STEP_TIMESTAMP = PREFIX + "last_step_timestamp_seconds"
VALUE = PREFIX + "value"
WINDOW_MIN = PREFIX + "window_min"
WINDOW_MAX = PREFIX + "window_max"
WINDOW_SECONDS = PREFIX + "window_seconds"
BEST_VALUE = PREFIX + "best_value"
BEST_STEP = PREFIX + "best_step"
STEPS_SINCE_BEST = PREFIX + "steps_since_best"
NONFINITE = PREFIX + "nonfinite"  # counter: _total
FIRST_NONFINITE_STEP = PREFIX + "first_nonfinite_step"
POINTS = PREFIX + "points"  # counter: _total

# Run states: curvewatch_run_state is 1 for the current one and 0 for the others.
RUNNING, FINISHED, FAILED = "running", "finished", "failed"
RUN_STATES = (RUNNING, FINISHED, FAILED)
FINAL_STATES = (FINISHED, FAILED)
# After the final state the endpoint keeps serving at most this long, so that Prometheus scrapes it
# (2 x the generated 15 s scrape interval); see exporter/prom/final_state.py.
FINAL_GRACE_S = 30.0
# Target labels a trainer writes into its file_sd target file: `up` of a target that went down carries
# the run (scraped series never get them: the generated scrape job drops them from samples).
SD_RUN_ID_LABEL = "curvewatch_run_id"
SD_RANK_LABEL = "curvewatch_rank"

# Label values given by the user (RunInfo fields) must be printable and at most this long.
MAX_LABEL_VALUE_LENGTH = 128

# Multi-process training: which ranks serve an endpoint.
RANKS_ALL, RANKS_ZERO = "all", "zero"
RANKS_CHOICES = (RANKS_ALL, RANKS_ZERO)
RANK_ENV = "RANK"  # global rank: the `rank` label
LOCAL_RANK_ENV = "LOCAL_RANK"  # rank on this host: the port offset

DEFAULT_JOB = "curvewatch"  # Pushgateway job name
DEFAULT_ADDR = "127.0.0.1"
PUSH_TIMEOUT_S = 10.0  # total deadline of one push (every group), not per socket operation
# Connections the endpoint's listening socket queues while its threads accept: a burst of scrapes fits.
LISTEN_BACKLOG = 512
# The endpoint gives up on a client that sends nothing (or never finishes a TLS handshake) after this.
CLIENT_TIMEOUT_S = 10.0
# How often the serving thread checks for stop(): the longest stop() waits.
SERVE_POLL_INTERVAL_S = 0.1
# A recorder whose live() keeps failing is logged at most once per this many seconds.
ERROR_LOG_INTERVAL_S = 60.0
