"""The signals' custom collector: spike events, the gradient norm and device gauges, read at scrape time.

    collector = SignalsCollector(RunInfo(run_id="run-1"), spikes=detector, grad_norm=meter,
                                 devices=TorchCudaDevices(), charts=recorder.charts, registry=exporter.registry)

Guarantees (each has a test named after it in tests/test_signals_collector.py):

- same_labels_as_the_training_series: every series carries ``run_id`` and ``rank``; a line's add ``chart``
  and ``metric`` (the chart the recorder placed the metric in), a device's add ``device``.
- a_failing_source_never_breaks_the_scrape: a source that raises is left out of that scrape (logged at
  most once a minute) and every other series is exposed.
- absent_means_absent: no detector, meter or device means no series (never zeros).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import Any

from curvewatch.prom._names import ERROR_LOG_INTERVAL_S
from curvewatch.prom.run_info import RunInfo
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from . import _names as n
from .devices import DeviceReader, reading_samples

__all__ = ["SignalsCollector"]

log = logging.getLogger(__name__)

_LINE = n.RUN_LABELS + n.LINE_LABELS
_DEVICE = n.RUN_LABELS + n.DEVICE_LABELS
# name -> (family class, HELP text, labels)
_FAMILIES: dict[str, tuple[type[Metric], str, tuple[str, ...]]] = {
    n.SPIKES: (CounterMetricFamily, "Spike events of each line (runs of values far from its local level).", _LINE),
    n.LAST_SPIKE_STEP: (GaugeMetricFamily, "First step of the line's last spike event.", _LINE),
    n.LAST_SPIKE_SIZE: (GaugeMetricFamily, "Largest |value| / |local level| of the line's last spike event.", _LINE),
    n.SPIKE_UNRECOVERED: (GaugeMetricFamily, "1 while a spike away from better is not back at its pre-spike "
                          "level after the detector's recover_steps steps.", _LINE),
    n.GRAD_NORM: (GaugeMetricFamily, "Latest global gradient norm.", n.RUN_LABELS),
    n.GRAD_NORM_MEDIAN: (GaugeMetricFamily, "Median of the run's global gradient norms so far.", n.RUN_LABELS),
    n.GRAD_NORM_STEPS: (CounterMetricFamily, "Gradient norms measured.", n.RUN_LABELS),
    n.DEVICE_MEMORY_ALLOCATED: (GaugeMetricFamily, "Device memory this process has allocated.", _DEVICE),
    n.DEVICE_MEMORY_RESERVED: (GaugeMetricFamily, "Device memory this process's caching allocator holds.", _DEVICE),
    n.DEVICE_MEMORY_PEAK: (GaugeMetricFamily, "Peak device memory this process allocated.", _DEVICE),
    n.DEVICE_UTILIZATION: (GaugeMetricFamily, "Device utilisation (0..1, NVML).", _DEVICE),
    n.DEVICE_TEMPERATURE: (GaugeMetricFamily, "Device temperature in Celsius (NVML).", _DEVICE),
}


class SignalsCollector(Collector):
    """Exposes a run's spike detector, gradient norm meter and device reader (each optional)."""

    def __init__(self, run: RunInfo, *, spikes: Any = None, grad_norm: Any = None, devices: DeviceReader | None = None,
                 charts: Any = None, registry: CollectorRegistry | None = None) -> None:
        if not isinstance(run, RunInfo):
            raise TypeError(f"`run` must be a RunInfo, got {type(run).__name__}.")
        self.run, self.spikes, self.grad_norm, self.devices, self.charts = run, spikes, grad_norm, devices, charts
        self._last_error_log: dict[str, float] = {}
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        for name, (cls, doc, labels) in _FAMILIES.items():
            yield cls(name, doc, labels=labels)

    def collect(self) -> Iterator[Metric]:
        families = {name: cls(name, doc, labels=labels) for name, (cls, doc, labels) in _FAMILIES.items()}
        base = (self.run.run_id, str(self.run.rank))
        for what, read in (("spike detector", self._spikes), ("gradient norm", self._grad_norm),
                           ("device reader", self._devices)):
            try:
                samples = read()
            except Exception:  # a scrape never fails because of one source, and training never sees it
                self._log_failure(what)
                continue
            for family, extra, value in samples:
                families[family].add_metric(base + extra, value)
        yield from (family for family in families.values() if family.samples)  # absent sources: no families

    def _spikes(self) -> list[tuple[str, tuple[str, ...], float]]:
        if self.spikes is None:
            return []
        owner = {} if self.charts is None else self.charts.owner
        out = []
        for line in self.spikes.lines():
            key = (str(owner.get(line.metric, line.metric)), line.metric)
            out += [(n.SPIKES, key, float(line.events)), (n.SPIKE_UNRECOVERED, key, float(line.unrecovered))]
            if line.last_step is not None:
                out += [(n.LAST_SPIKE_STEP, key, float(line.last_step)), (n.LAST_SPIKE_SIZE, key, line.last_size)]
        return out

    def _grad_norm(self) -> list[tuple[str, tuple[str, ...], float]]:
        if self.grad_norm is None:
            return []
        r = self.grad_norm.reading()
        out = [(n.GRAD_NORM_STEPS, (), float(r.steps))]
        if not math.isnan(r.last):
            out.append((n.GRAD_NORM, (), r.last))
        if not math.isnan(r.median):
            out.append((n.GRAD_NORM_MEDIAN, (), r.median))
        return out

    def _devices(self) -> list[tuple[str, tuple[str, ...], float]]:
        if self.devices is None:
            return []
        return [(family, (device,), value) for family, device, value in reading_samples(self.devices.read())]

    def _log_failure(self, what: str) -> None:
        now = time.monotonic()
        if now - self._last_error_log.get(what, -math.inf) >= ERROR_LOG_INTERVAL_S:
            self._last_error_log[what] = now
            log.exception("curvewatch: reading the %s of run %r failed during a scrape; its series are left out "
                          "of this scrape (training goes on).", what, self.run.run_id)
