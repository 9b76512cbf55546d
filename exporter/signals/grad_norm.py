"""The global gradient norm, accumulated on the gradients' device and read only at scrape time.

    meter = GradNormMeter(sink=lambda norm: recorder.log(step, {"grad_norm": norm}))
    meter.attach(optimizer)            # update() runs as the optimizer's step pre-hook
    # or, where you clip: meter.update(model.parameters()) after backward(), before clip and step()
    meter.reading()                    # GradNormReading(last=0.83, median=0.79, steps=1200): a scrape

Guarantees (each has a test named after it in tests/test_signals_grad_norm.py):

- the_global_norm_of_every_gradient: ``update`` computes sqrt(sum of every gradient's squared L2 norm),
  over every device the parameters live on (a parameter without a gradient is left out).
- no_sync_per_step: ``update`` queues device work only (``torch._foreach_norm``, a log-binned histogram
  bumped with ``index_add_``); nothing is copied to the host until ``reading()`` (a scrape) or
  ``state_dict()``; the ``sink`` gets the norm as a device tensor (the recorder stages it without a sync).
- median_of_the_run_so_far: ``reading().median`` is the median of every finite norm since the run began,
  exact to the histogram's bin (``2 ** (1 / GRAD_NORM_BINS_PER_OCTAVE)``, 4.4%), in bounded memory
  (``(MAX_LOG2 - MIN_LOG2) * BINS_PER_OCTAVE`` counters); NaN/inf norms are counted in ``steps`` but
  not in the median.
- record_takes_a_norm_computed_elsewhere: ``record(value)`` adds a norm a framework already computed
  (Hugging Face logs its pre-clipping ``grad_norm``), on the host.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from . import _names as n

__all__ = ["GradNormMeter", "GradNormReading"]

_BINS = (n.GRAD_NORM_MAX_LOG2 - n.GRAD_NORM_MIN_LOG2) * n.GRAD_NORM_BINS_PER_OCTAVE


class GradNormReading(NamedTuple):
    last: float  # the latest norm (NaN before the first)
    median: float  # median of the run's finite norms so far (NaN before the first)
    steps: int  # norms measured (optimizer steps)


class GradNormMeter:
    """The global gradient norm per optimizer step: device-side, read at scrape (see the module docstring)."""

    def __init__(self, sink: Callable[[Any], None] | None = None, every: int = 1) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1 (log the norm every that many steps), got {every!r}.")
        self.sink, self.every = sink, every
        self.steps = 0
        self._last: Any = None  # a 0-d tensor (device) or a float
        self._hist: Any = None  # counts per log2 bin, on the norms' device
        self._host_counts = [0.0] * _BINS  # norms given by record()
        self._lock = threading.Lock()
        self._handles: list[Any] = []

    def attach(self, optimizer: Any) -> GradNormMeter:
        """Run ``update`` over the optimizer's parameters right before each ``optimizer.step()``."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        def before_step(*_: Any) -> None:
            self.update(params)  # a pre-hook must return None

        self._handles.append(optimizer.register_step_pre_hook(before_step))
        return self

    def detach(self) -> None:
        """Remove the hooks ``attach`` added."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def update(self, parameters: Iterable[Any]) -> Any:
        """Measure the norm of the parameters' current gradients (device work only); return it (a tensor)."""
        import torch

        by_device: dict[Any, list[Any]] = {}
        for p in parameters:
            if p.grad is not None:
                by_device.setdefault(p.grad.device, []).append(p.grad.detach())
        if not by_device:
            return None
        squares = []
        for grads in by_device.values():
            dense = [g.to_dense() if g.is_sparse else g for g in grads]
            squares.append(torch.stack(torch._foreach_norm(dense)).float().square().sum())
        device = squares[0].device
        norm = torch.stack([s.to(device, non_blocking=True) for s in squares]).sum().sqrt()
        with self._lock:
            if self._hist is None or self._hist.device != device:
                self._hist = torch.zeros(_BINS, dtype=torch.float32, device=device)
            finite = torch.isfinite(norm)
            index = _bin_of(torch.log2(torch.where(finite, norm, 1.0))).clamp(0, _BINS - 1).long()
            self._hist.index_add_(0, index.reshape(1), finite.reshape(1).float())
            self._last, self.steps = norm, self.steps + 1
        if self.sink is not None and self.steps % self.every == 0:
            self.sink(norm)
        return norm

    def record(self, value: float) -> None:
        """Add a norm computed elsewhere (a float, on the host)."""
        value = float(value)
        with self._lock:
            if math.isfinite(value):
                index = min(max(int(_bin_of(math.log2(value)) if value > 0 else 0), 0), _BINS - 1)
                self._host_counts[index] += 1
            self._last, self.steps = value, self.steps + 1

    def reading(self) -> GradNormReading:
        """The latest norm, the run's median so far and the count (copies the histogram: call it at scrape)."""
        with self._lock:
            last, hist, steps = self._last, self._hist, self.steps
            counts = list(self._host_counts)
            if hist is not None:
                counts = [a + b for a, b in zip(counts, hist.tolist(), strict=True)]
        return GradNormReading(math.nan if last is None else float(last), _median(counts), steps)

    def state_dict(self) -> dict[str, Any]:
        """The histogram, the latest norm and the count, as plain types (a resumed run keeps its median)."""
        r = self.reading()
        with self._lock:
            counts = list(self._host_counts)
            if self._hist is not None:
                counts = [a + b for a, b in zip(counts, self._hist.tolist(), strict=True)]
        return {"counts": counts, "last": r.last, "steps": r.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["counts"]) != _BINS:
            raise ValueError(f"The saved gradient norm histogram has {len(state['counts'])} bins; this "
                             f"curvewatch uses {_BINS}.")
        with self._lock:
            self._host_counts, self._hist = [float(c) for c in state["counts"]], None
            self._last, self.steps = float(state["last"]), int(state["steps"])


def _bin_of(log2: Any) -> Any:
    """The histogram bin of a log2 value (a float or a tensor): floor((log2 - MIN_LOG2) * BINS_PER_OCTAVE)."""
    scaled = (log2 - n.GRAD_NORM_MIN_LOG2) * n.GRAD_NORM_BINS_PER_OCTAVE
    return scaled.floor() if hasattr(scaled, "floor") else math.floor(scaled)


def _median(counts: list[float]) -> float:
    """The centre (geometric) of the bin holding the median, or NaN without counts."""
    total = sum(counts)
    if not total:
        return math.nan
    seen = 0.0
    for i, c in enumerate(counts):
        seen += c
        if seen >= total / 2:
            return 2.0 ** (n.GRAD_NORM_MIN_LOG2 + (i + 0.5) / n.GRAD_NORM_BINS_PER_OCTAVE)
    return math.nan  # unreachable: seen reaches total
