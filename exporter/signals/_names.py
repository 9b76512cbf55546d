"""The names and defaults of the training signals, in one place (the metric table: docs/ARCHITECTURE.md).

Label names are the training series' own (``exporter/prom/_names.py``): every series carries ``run_id``
and ``rank``; a line's series add ``chart`` and ``metric``; a device's add ``device``.
"""

from __future__ import annotations

from curvewatch.prom._names import LINE_LABELS, PREFIX, RUN_LABELS

__all__ = ["DEVICE_LABELS", "LINE_LABELS", "RUN_LABELS"]

# ---- spike events (spikes.py) ------------------------------------------------------------------------
SPIKES = PREFIX + "spikes"  # counter: _total
LAST_SPIKE_STEP = PREFIX + "last_spike_step"
LAST_SPIKE_SIZE = PREFIX + "last_spike_size"
SPIKE_UNRECOVERED = PREFIX + "spike_unrecovered"

SPIKE_WINDOW = 64  # finite values in the window the local level (median) and spread (MAD) come from
SPIKE_BLOCK = 16  # the level is re-estimated every this many values (from the window before the block)
SPIKE_FACTOR = 6.0  # a spike is farther from the level than this many robust spreads ...
SPIKE_MIN_RELATIVE = 0.05  # ... each at least this fraction of |level| (a flat line's MAD is 0)
RECOVER_STEPS = 200  # N: a spike not back at its pre-spike level within N steps is unrecovered
DRAIN_EVERY = 16384  # values per metric buffered before the detector runs over them (256 KiB, as the recorder)
SPIKES_KEPT = 50  # the last events of each line kept for the archive's metadata (report markers)
MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of normal noise

# ---- gradient norm (grad_norm.py) ---------------------------------------------------------------------
GRAD_NORM_METRIC = "grad_norm"  # the line RunTracker(grad_norm=True) logs
GRAD_NORM = PREFIX + "grad_norm"
GRAD_NORM_MEDIAN = PREFIX + "grad_norm_median"
GRAD_NORM_STEPS = PREFIX + "grad_norm_steps"  # counter: _total
GRAD_NORM_BINS_PER_OCTAVE = 16  # the run's median is exact to 2**(1/16) (4.4%)
GRAD_NORM_MIN_LOG2, GRAD_NORM_MAX_LOG2 = -40, 40  # norms outside 2**-40 .. 2**40 land in the end bins

# ---- devices (devices.py) -----------------------------------------------------------------------------
DEVICE_LABELS = ("device",)
DEVICE_MEMORY_ALLOCATED = PREFIX + "device_memory_allocated_bytes"
DEVICE_MEMORY_RESERVED = PREFIX + "device_memory_reserved_bytes"
DEVICE_MEMORY_PEAK = PREFIX + "device_memory_peak_bytes"
DEVICE_UTILIZATION = PREFIX + "device_utilization_ratio"
DEVICE_TEMPERATURE = PREFIX + "device_temperature_celsius"
