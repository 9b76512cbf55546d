"""Checking steps, names and values on the hot path, turning buffered values into float64 arrays,
counting steps.

A CPU tensor is read at its ``log()`` call (there is no device to wait for); a device tensor is
copied asynchronously into a staging slot (``_staging.py``) read once per fold, so ``log()``
never forces a device sync and every tensor is recorded with the value it had when logged.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

from ._staging import Staging, read_slots
from .errors import RecorderError

_NUMPY_NUMBERS = frozenset({np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                            np.uint64, np.uint32, np.uint16, np.uint8})

__all__ = ["check_metric_name", "check_step", "chunk_arrays", "coerce_value", "count_steps"]


def check_step(step: Any) -> int:
    """Return ``step`` as an ``int`` or raise a RecorderError that says what a step must be."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise RecorderError(
            f"A step must be an int, got {type(step).__name__} {step!r}; "
            "pass the global step counter as an integer."
        )
    step = int(step)
    if step < 0:
        raise RecorderError(f"A step must be >= 0, got {step}; count steps from 0.")
    if step >= 2**63:
        raise RecorderError(f"A step must be < 2**63, got {step}; count steps one by one from 0.")
    return step


def check_metric_name(name: Any) -> None:
    """Refuse a metric name that is empty or not printable (it could not be shown or exported)."""
    if not isinstance(name, str) or not name or not name.isprintable():
        raise RecorderError(f"A metric name must be a non-empty printable string, got {name!r}; "
                            "name it like train_loss or val/acc.")


def coerce_value(name: str, value: Any, step: int) -> Any:
    """The log buffer's ``on_value``: a value that is not an exact float, as a float, or a device
    tensor's staging slot. Raises a RecorderError naming the metric when it cannot be recorded."""
    cls = type(value)
    if cls is _Tensor and value.is_cpu:  # a CPU tensor: read now (no device to sync with)
        try:
            v = value.item()
        except RuntimeError:  # no single value (several elements, meta): _tensor says which
            v = None
        return v if type(v) is float else _tensor(name, value, step, v)
    if cls is int or cls in _NUMPY_NUMBERS:
        return _float(name, value, step)
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is imported
    if torch is not None and isinstance(value, torch.Tensor):
        _remember_tensor_type(torch.Tensor)
        v = _item(value) if value.is_cpu else None
        return v if type(v) is float else _tensor(name, value, step, v)
    if not isinstance(value, (bool, np.bool_)) and isinstance(value, (numbers.Real, np.integer, np.floating)):
        return _float(name, value, step)
    raise RecorderError(
        f"Metric {name!r} at step {step} got {type(value).__name__} {value!r:.60}; log a number "
        "(float, int, numpy scalar or one-element torch tensor), not a bool, str or None."
    )


_Tensor: Any = None  # torch.Tensor, once a tensor was logged (torch is imported lazily)


def _remember_tensor_type(cls: type) -> None:
    global _Tensor
    _Tensor = cls
_STAGING = Staging()


def _float(name: str, value: Any, step: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise RecorderError(f"Metric {name!r} at step {step} is {value}, too large for a float64; "
                            "log it scaled down (or as its logarithm).") from None


def _item(value: Any) -> Any:
    """A CPU tensor's ``item()``, or None when it has no single value."""
    try:
        return value.item()
    except RuntimeError:
        return None


def _tensor(name: str, value: Any, step: int, item: Any) -> Any:
    """A tensor off the fast path: ``item`` is its CPU value when it was read, else None."""
    if value.numel() != 1:
        raise RecorderError(f"Metric {name!r} at step {step} is a tensor of shape {tuple(value.shape)}; "
                            "log a one-element tensor (e.g. loss.detach() or tensor.mean()).")
    if value.dtype.is_complex or value.dtype == _torch().bool:
        raise RecorderError(f"Metric {name!r} at step {step} is a {value.dtype} tensor; log a real number.")
    if value.is_meta:
        raise RecorderError(f"Metric {name!r} at step {step} is a meta tensor, which has no value; "
                            "log a tensor that holds data.")
    if value.is_cpu:
        if type(item) is int:
            return float(item)
        raise RecorderError(f"Metric {name!r} at step {step} is a {value.dtype} tensor that cannot be "
                            "read as a number; log a dense real tensor.")
    if value.layout != _torch().strided or value.is_quantized:
        raise RecorderError(f"Metric {name!r} at step {step} is a {value.layout} {value.dtype} tensor on "
                            f"{value.device}; log a dense real tensor (e.g. t.to_dense() or t.dequantize()).")
    try:
        return _STAGING.put(value)
    except RuntimeError as exc:
        raise RecorderError(f"Metric {name!r} at step {step}: its tensor on {value.device} cannot be copied "
                            f"without a sync ({str(exc).splitlines()[0]}); log it as a float.") from None


def chunk_arrays(chunk: tuple[bytes, bytes, list[tuple[int, Any]]]) -> tuple[np.ndarray, np.ndarray]:
    """A log buffer chunk (``read``/``take``) as int64 steps and float64 values."""
    steps, values, objects = chunk
    out = np.frombuffer(values, dtype=np.float64)
    if objects:  # staged device values: one device-to-host copy per staging chunk
        out = out.copy()
        read_slots(out, [i for i, _ in objects], [slot for _, slot in objects])
    return np.frombuffer(steps, dtype=np.int64), out


def count_steps(step_arrays: list[np.ndarray], total: int, last: int) -> tuple[int, int]:
    """Steps counter and last step after new steps: a step counts once, when first passed."""
    step_arrays = [a for a in step_arrays if a.size]
    if not step_arrays:
        return total, last
    first = step_arrays[0]
    # metrics logged together share their steps: count them once (no concatenation, no sort)
    step_arrays = [first] + [a for a in step_arrays[1:] if not np.array_equal(a, first)]
    steps = np.concatenate(step_arrays) if len(step_arrays) > 1 else first
    if len(step_arrays) > 1:
        steps = np.sort(steps, kind="stable")  # sorted runs: timsort merges them in ~linear time
    fresh = steps[steps > last]
    distinct = int(fresh.size > 0) + int(np.count_nonzero(fresh[1:] != fresh[:-1]))
    return total + distinct, max(last, int(steps[-1]))


def _torch() -> Any:
    import torch

    return torch
