"""Per-rank device readings at scrape time: CUDA memory per device, utilisation and temperature with NVML.

    reader = TorchCudaDevices()          # the boundary: the only place torch.cuda and pynvml are called
    reader.read()                        # (DeviceReading(device="cuda:0", allocated=..., ...), ...)

Guarantees (each has a test named after it in tests/test_signals_devices.py):

- no_device_no_series: a process without CUDA, or that never used it, reads nothing (no zeros).
- this_process_memory: allocated, reserved and peak bytes are this process's (``torch.cuda.memory_*``),
  per device it has used (``torch.cuda.is_initialized()`` and memory reserved there, or the current one).
- nvml_when_installed: utilisation (0..1) and temperature (Celsius) come from NVML (``nvidia-ml-py``)
  through ``torch.cuda.utilization``/``temperature`` (which map CUDA_VISIBLE_DEVICES); without NVML, or
  when it fails, those two are None (no series) and the memory is still read.
- read_at_scrape_only: nothing runs per training step; a read costs well under 1 ms per device
  (bench/bench_signals.py).
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol

__all__ = ["DeviceReader", "DeviceReading", "TorchCudaDevices"]


class DeviceReading(NamedTuple):
    device: str  # "cuda:0": the index this process sees
    allocated: float  # bytes
    reserved: float
    peak: float  # max allocated since the start (or the last torch.cuda.reset_peak_memory_stats)
    utilization: float | None  # 0..1, NVML
    temperature: float | None  # Celsius, NVML


class DeviceReader(Protocol):
    """What the collector reads: anything with ``read()`` returning the readings of the devices in use."""

    def read(self) -> tuple[DeviceReading, ...]: ...


class CudaApi(Protocol):
    """The calls ``TorchCudaDevices`` makes; ``torch.cuda`` is one (tests pass a fake)."""

    def is_available(self) -> bool: ...
    def is_initialized(self) -> bool: ...
    def device_count(self) -> int: ...
    def current_device(self) -> int: ...
    def memory_allocated(self, device: int) -> int: ...
    def memory_reserved(self, device: int) -> int: ...
    def max_memory_allocated(self, device: int) -> int: ...
    def utilization(self, device: int) -> int: ...
    def temperature(self, device: int) -> int: ...


class TorchCudaDevices:
    """Reads ``torch.cuda`` (or the ``cuda`` given) for every device this process uses."""

    def __init__(self, cuda: CudaApi | None = None) -> None:
        self._cuda = cuda
        self._nvml: bool | None = None  # None: not tried yet; False: unavailable (not installed, failed)
        self._lock = threading.Lock()

    def _api(self) -> CudaApi | None:
        if self._cuda is None:
            import torch

            self._cuda = torch.cuda
        return self._cuda

    def read(self) -> tuple[DeviceReading, ...]:
        cuda = self._api()
        if cuda is None or not cuda.is_available() or not cuda.is_initialized():
            return ()
        with self._lock:
            current = cuda.current_device()
            out = []
            for index in range(cuda.device_count()):
                reserved = float(cuda.memory_reserved(index))
                if not reserved and index != current:
                    continue  # a device this process never used
                util, temp = self._nvml_read(cuda, index)
                out.append(DeviceReading(f"cuda:{index}", float(cuda.memory_allocated(index)), reserved,
                                         float(cuda.max_memory_allocated(index)), util, temp))
            return tuple(out)

    def _nvml_read(self, cuda: CudaApi, index: int) -> tuple[float | None, float | None]:
        if self._nvml is False:
            return None, None
        try:
            util, temp = cuda.utilization(index) / 100.0, float(cuda.temperature(index))
        except Exception:  # NVML not installed (ModuleNotFoundError) or not working: memory only, from now on
            self._nvml = False
            return None, None
        self._nvml = True
        return util, temp


def reading_samples(readings: tuple[DeviceReading, ...]) -> list[tuple[str, str, float]]:
    """``(family, device, value)`` for each reading; NVML's None values are left out."""
    from . import _names as n

    samples = []
    for r in readings:
        samples += [(n.DEVICE_MEMORY_ALLOCATED, r.device, r.allocated),
                    (n.DEVICE_MEMORY_RESERVED, r.device, r.reserved), (n.DEVICE_MEMORY_PEAK, r.device, r.peak)]
        if r.utilization is not None:
            samples.append((n.DEVICE_UTILIZATION, r.device, r.utilization))
        if r.temperature is not None:
            samples.append((n.DEVICE_TEMPERATURE, r.device, r.temperature))
    return samples
