"""Checking steps and values on the hot path, and turning buffered values into float64 arrays.

Tensors (CPU or CUDA) are kept as they are in the buffer and converted in one batch per device
when the buffer is folded, so ``log()`` never forces a device sync per step.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import RecorderError

__all__ = ["check_step", "check_value", "to_float_array"]


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
    if isinstance(value, (bool, np.bool_)):
        pass
    elif isinstance(value, (numbers.Real, np.integer, np.floating)):
        return False
    elif _is_tensor(value):
        if value.numel() != 1:
            raise RecorderError(
                f"Metric {name!r} at step {step} is a tensor of shape {tuple(value.shape)}; "
                "log a one-element tensor (e.g. loss.detach() or tensor.mean())."
            )
        if value.dtype.is_complex or value.dtype == _torch().bool:
            raise RecorderError(
                f"Metric {name!r} at step {step} is a {value.dtype} tensor; log a real number."
            )
        return True
    raise RecorderError(
        f"Metric {name!r} at step {step} got {type(value).__name__} {value!r:.60}; log a number "
        "(float, int, numpy scalar or one-element torch tensor), not a bool, str or None."
    )


def to_float_array(values: Sequence[Any], has_tensors: bool) -> np.ndarray:
    """Convert buffered values to float64, syncing each device once (not once per value)."""
    if not has_tensors:
        return np.asarray(values, dtype=np.float64)
    out = np.empty(len(values), dtype=np.float64)
    by_device: dict[Any, tuple[list[int], list[Any]]] = {}
    for i, v in enumerate(values):
        if _is_tensor(v):
            slot = by_device.setdefault(v.device, ([], []))
            slot[0].append(i)
            slot[1].append(v)
        else:
            out[i] = float(v)
    torch = _torch()
    for positions, tensors in by_device.values():
        flat = torch.stack([t.detach().reshape(()).to(torch.float64) for t in tensors])
        out[positions] = flat.cpu().numpy()
    return out


def _is_tensor(value: Any) -> bool:
    cls = type(value)
    return cls.__module__.startswith("torch") and hasattr(value, "numel")


def _torch() -> Any:
    import torch

    return torch
