"""Checking steps and values on the hot path, turning buffered values into float64 arrays, counting steps.

Tensors (CPU or CUDA) are kept as they are in the buffer and converted in one batch per device
when the buffer is folded, so ``log()`` never forces a device sync per step.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np

from .errors import RecorderError

_NUMPY_NUMBERS = frozenset({np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                            np.uint64, np.uint32, np.uint16, np.uint8})

__all__ = ["check_step", "check_value", "chunk_arrays", "coerce_value", "count_steps"]


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


def check_value(name: str, value: Any, step: int) -> bool:
    """Accept a number or a one-element numeric tensor; return True when it is a tensor."""
    cls = type(value)
    if cls is int or cls in _NUMPY_NUMBERS:
        return False
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is imported
    if torch is not None and isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise RecorderError(
                f"Metric {name!r} at step {step} is a tensor of shape {tuple(value.shape)}; "
                "log a one-element tensor (e.g. loss.detach() or tensor.mean())."
            )
        if value.dtype.is_complex or value.dtype == torch.bool:
            raise RecorderError(
                f"Metric {name!r} at step {step} is a {value.dtype} tensor; log a real number."
            )
        return True
    if not isinstance(value, (bool, np.bool_)) and isinstance(value, (numbers.Real, np.integer, np.floating)):
        return False
    raise RecorderError(
        f"Metric {name!r} at step {step} got {type(value).__name__} {value!r:.60}; log a number "
        "(float, int, numpy scalar or one-element torch tensor), not a bool, str or None."
    )


def coerce_value(name: str, value: Any, step: int) -> Any:
    """The log buffer's ``on_value``: a value that is not a float, as a float, or the tensor itself."""
    if check_value(name, value, step):
        return value
    try:
        return float(value)
    except OverflowError:
        raise RecorderError(f"Metric {name!r} at step {step} is {value}, too large for a float64; "
                            "log it scaled down (or as its logarithm).") from None


def chunk_arrays(chunk: tuple[bytes, bytes, list[tuple[int, Any]]]) -> tuple[np.ndarray, np.ndarray]:
    """A log buffer chunk (``read``/``take``) as int64 steps and float64 values."""
    steps, values, objects = chunk
    return np.frombuffer(steps, dtype=np.int64), _values_array(values, objects)


def _values_array(values: bytes, objects: list[tuple[int, Any]]) -> np.ndarray:
    """The float64 values, with the tensors (``(index, tensor)``) converted in one batch per device
    (one sync), never one ``.item()`` per value."""
    out = np.frombuffer(values, dtype=np.float64)
    if not objects:
        return out
    out = out.copy()
    torch = _torch()
    positions = [i for i, _ in objects]
    tensors = [t for _, t in objects]
    with torch.no_grad():
        try:  # the common case: same shape, one device -> one stack, one copy, one sync
            out[positions] = torch.stack(tensors).reshape(-1).to(torch.float64).cpu().numpy()
        except RuntimeError:  # several devices or shapes: one stack per device
            by_device: dict[Any, list[int]] = {}
            for k, t in enumerate(tensors):
                by_device.setdefault(t.device, []).append(k)
            for ks in by_device.values():
                group = torch.stack([tensors[k].reshape(()) for k in ks])
                out[[positions[k] for k in ks]] = group.to(torch.float64).cpu().numpy()
    return out


def count_steps(step_arrays: list[np.ndarray], total: int, last: int) -> tuple[int, int]:
    """Steps counter and last step after new steps: a step counts once, when first passed."""
    step_arrays = [a for a in step_arrays if a.size]
    if not step_arrays:
        return total, last
    steps = np.concatenate(step_arrays) if len(step_arrays) > 1 else step_arrays[0]
    if len(step_arrays) > 1:
        steps = np.sort(steps)  # each array is sorted already; a sort beats np.unique's hashing here
    fresh = steps[steps > last]
    distinct = int(fresh.size > 0) + int(np.count_nonzero(fresh[1:] != fresh[:-1]))
    return total + distinct, max(last, int(steps[-1]))


def _torch() -> Any:
    import torch

    return torch
