"""Device tensors recorded as they were at ``log()``, without a per-step sync.

``log()`` of a tensor on a device (CUDA, MPS, ...) queues an asynchronous ``copy_`` of it into the
next slot of a preallocated staging tensor on that device and stores the slot, a ``(chunk,
index)`` pair, in the log buffer. Later in-place changes of the logged tensor (``total += loss``)
do not reach the slot. The fold reads each staging chunk once (one device-to-host copy, the only
sync) and :func:`read_slots` puts the values in place. A full chunk is replaced by a fresh one, so
a slot is never reused while a buffer holds it; a chunk is freed with the last slot that uses it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

__all__ = ["SLOTS", "Staging", "read_slots"]

SLOTS = 4096  # values per staging chunk (one chunk per device at a time)


class Staging:
    """The current staging chunk of each device."""

    def __init__(self) -> None:
        self._chunks: dict[Any, list[Any]] = {}  # device -> [chunk tensor, next free slot]
        self._lock = threading.Lock()  # recorders in several threads share it (a slot goes to one value)

    def put(self, value: Any) -> tuple[Any, int]:
        """Queue a copy of the one-element tensor ``value``; return its slot."""
        import torch

        device = value.device
        with self._lock:
            cur = self._chunks.get(device)
            if cur is None or cur[1] == SLOTS:
                dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
                cur = self._chunks[device] = [torch.empty(SLOTS, dtype=dtype, device=device), 0]
            chunk, k = cur
            cur[1] = k + 1
        chunk[k:k + 1].copy_(value.detach().reshape(1), non_blocking=True)
        return chunk, k


def read_slots(out: np.ndarray, positions: list[int], slots: list[tuple[Any, int]]) -> None:
    """Write the staged values of ``slots`` into ``out`` at ``positions``: one copy per chunk."""
    by_chunk: dict[int, tuple[Any, list[int], list[int]]] = {}
    for pos, (chunk, k) in zip(positions, slots):
        entry = by_chunk.setdefault(id(chunk), (chunk, [], []))
        entry[1].append(pos)
        entry[2].append(k)
    for chunk, pos, ks in by_chunk.values():
        host = chunk[: max(ks) + 1].cpu().double().numpy()
        out[pos] = host[ks]
