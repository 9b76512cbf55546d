"""Checking steps and values on the hot path, turning buffered values into float64 arrays, counting steps.

Tensors (CPU or CUDA) are kept as they are in the buffer and converted in one batch per device
when the buffer is folded, so ``log()`` never forces a device sync per step.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import RecorderError

_NUMPY_NUMBERS = frozenset({np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                            np.uint64, np.uint32, np.uint16, np.uint8})

__all__ = ["check_step", "check_value", "count_steps", "to_float_array"]


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


def to_float_array(values: Sequence[Any], has_tensors: bool) -> np.ndarray:
    """Convert buffered values to float64, syncing each device once (not once per value)."""
    if not has_tensors:
        return np.asarray(values, dtype=np.float64)
    torch = _torch()
    is_tensor = [isinstance(v, torch.Tensor) for v in values]
    tensors = [v for v, t in zip(values, is_tensor) if t]
    out = np.empty(len(values), dtype=np.float64)
    out[[not t for t in is_tensor]] = [float(v) for v, t in zip(values, is_tensor) if not t]
    with torch.no_grad():
        try:  # the common case: same shape, one device -> one stack, one copy, one sync
            flat = torch.stack(tensors).reshape(-1).to(torch.float64).cpu().numpy()
        except RuntimeError:  # several devices or shapes: one stack per device
            flat = np.empty(len(tensors), dtype=np.float64)
            by_device: dict[Any, list[int]] = {}
            for i, t in enumerate(tensors):
                by_device.setdefault(t.device, []).append(i)
            for positions in by_device.values():
                group = torch.stack([tensors[i].reshape(()) for i in positions])
                flat[positions] = group.to(torch.float64).cpu().numpy()
    out[is_tensor] = flat
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
