"""Device gauges (curvewatch.signals.devices) with the device layer faked at its boundary: the CudaApi calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from curvewatch.prom import RunInfo
from curvewatch.signals import SignalsCollector, TorchCudaDevices
from prometheus_client import CollectorRegistry

GiB = 2**30


@dataclass
class FakeCuda:
    """What torch.cuda answers on a machine with ``reserved`` bytes per device (NVML: ``nvml``)."""

    reserved: list[int] = field(default_factory=lambda: [2 * GiB, 0])
    available: bool = True
    initialized: bool = True
    current: int = 0
    nvml: bool = True
    calls: int = 0

    def is_available(self) -> bool:
        return self.available

    def is_initialized(self) -> bool:
        return self.initialized

    def device_count(self) -> int:
        return len(self.reserved)

    def current_device(self) -> int:
        return self.current

    def memory_allocated(self, device: int) -> int:
        self.calls += 1
        return self.reserved[device] // 2

    def memory_reserved(self, device: int) -> int:
        return self.reserved[device]

    def max_memory_allocated(self, device: int) -> int:
        return self.reserved[device] * 3 // 4

    def utilization(self, device: int) -> int:
        if not self.nvml:
            raise ModuleNotFoundError("pynvml does not seem to be installed", name="pynvml")
        return 87

    def temperature(self, device: int) -> int:
        return 64


def _registry(cuda: FakeCuda) -> CollectorRegistry:
    registry = CollectorRegistry()
    SignalsCollector(RunInfo(run_id="r1", rank=3), devices=TorchCudaDevices(cuda), registry=registry)
    return registry


@pytest.mark.parametrize("cuda", [FakeCuda(available=False), FakeCuda(initialized=False)])
def test_no_device_no_series(cuda: FakeCuda) -> None:
    registry = _registry(cuda)
    assert [m.name for m in registry.collect()] == []


def test_no_device_no_series_on_this_machine_without_a_gpu() -> None:
    import torch

    readings = TorchCudaDevices().read()
    if not torch.cuda.is_available():
        assert readings == ()
    else:  # a GPU machine (bench/gpu_check.py reads it for real): only devices this process uses
        assert all(r.device.startswith("cuda:") and r.reserved >= 0 for r in readings)


def test_this_process_memory() -> None:
    registry = _registry(FakeCuda(reserved=[2 * GiB, 0, 4 * GiB]))
    labels = {"run_id": "r1", "rank": "3"}
    get = registry.get_sample_value
    assert get("curvewatch_device_memory_allocated_bytes", {**labels, "device": "cuda:0"}) == GiB
    assert get("curvewatch_device_memory_reserved_bytes", {**labels, "device": "cuda:2"}) == 4 * GiB
    assert get("curvewatch_device_memory_peak_bytes", {**labels, "device": "cuda:2"}) == 3 * GiB
    assert get("curvewatch_device_memory_reserved_bytes", {**labels, "device": "cuda:1"}) is None  # never used


def test_nvml_when_installed() -> None:
    labels = {"run_id": "r1", "rank": "3", "device": "cuda:0"}
    with_nvml = _registry(FakeCuda())
    assert with_nvml.get_sample_value("curvewatch_device_utilization_ratio", labels) == 0.87
    assert with_nvml.get_sample_value("curvewatch_device_temperature_celsius", labels) == 64
    without = _registry(FakeCuda(nvml=False))
    assert without.get_sample_value("curvewatch_device_utilization_ratio", labels) is None
    assert without.get_sample_value("curvewatch_device_temperature_celsius", labels) is None
    assert without.get_sample_value("curvewatch_device_memory_allocated_bytes", labels) == GiB


def test_read_at_scrape_only() -> None:
    cuda = FakeCuda(reserved=[GiB] * 8)
    registry = _registry(cuda)
    assert cuda.calls == 0  # nothing read until a scrape
    start = time.perf_counter()
    for _ in range(50):
        list(registry.collect())
    per_device_ms = (time.perf_counter() - start) / 50 / 8 * 1000
    assert cuda.calls == 50 * 8
    assert per_device_ms < 1.0, f"{per_device_ms:.3f} ms per device per scrape"
