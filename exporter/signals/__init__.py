"""Training signals the pages need: live spike events per line, the global gradient norm, device gauges.

All three are read at scrape time by one custom collector (``SignalsCollector``); ``RunTracker`` turns
them on with ``spikes=``, ``grad_norm=`` and ``devices=``. Series and alerts: docs/signals.md.
"""

from curvewatch.signals.collector import SignalsCollector
from curvewatch.signals.devices import DeviceReader, DeviceReading, TorchCudaDevices
from curvewatch.signals.grad_norm import GradNormMeter, GradNormReading
from curvewatch.signals.recorded import SpikeWatchedRecorder
from curvewatch.signals.spikes import SpikeDetector, SpikeLine

__all__ = [
    "DeviceReader",
    "DeviceReading",
    "GradNormMeter",
    "GradNormReading",
    "SignalsCollector",
    "SpikeDetector",
    "SpikeLine",
    "SpikeWatchedRecorder",
    "TorchCudaDevices",
]
