"""One run = one version under torchrun/DDP: rank 0 allocates; every rank learns rank 0's run id.

- run_id_reaches_every_rank: with ``torch.distributed`` initialised, rank 0's run id is broadcast
  (``broadcast_object_list``); before it is initialised, under ``torchrun``, it goes through the launcher's
  key-value store, found from the environment (``MASTER_ADDR``/``MASTER_PORT``, ``TORCHELASTIC_USE_AGENT_STORE``).
  The n-th tracker started in a process uses the n-th key, so several runs in one job never mix.
- A single process (``WORLD_SIZE`` unset or 1) shares nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Mapping

__all__ = ["STORE_TIMEOUT_S", "share_run_id", "world_size"]

STORE_TIMEOUT_S = 300.0  # how long other ranks wait for rank 0's run id (allocating may wait for the lock)
_STORE_KEY = "curvewatch/run_id/{restart}/{sequence}"
_sequence = itertools.count()


def world_size(environ: Mapping[str, str] | None = None) -> int:
    """``torch.distributed``'s world size when initialised, else ``WORLD_SIZE``, else 1."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    raw = (os.environ if environ is None else environ).get("WORLD_SIZE", "")
    try:
        return max(int(raw), 1) if raw else 1
    except ValueError:
        raise ValueError(f"The environment variable WORLD_SIZE={raw!r} is not an integer; unset it or fix it.") \
            from None


def share_run_id(run_id: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Rank 0's ``run_id`` (given on rank 0, None elsewhere), on every rank."""
    import torch.distributed as dist

    environ = os.environ if environ is None else environ
    sequence = next(_sequence)
    if world_size(environ) <= 1:
        if run_id is None:
            raise RuntimeError("This process is not rank 0 but WORLD_SIZE is 1; launch every rank with torchrun.")
        return run_id
    if dist.is_available() and dist.is_initialized():
        box = [run_id]
        dist.broadcast_object_list(box, src=0)
        return str(box[0])
    return _through_store(run_id, environ, sequence)


def _through_store(run_id: str | None, environ: Mapping[str, str], sequence: int) -> str:
    """Set (rank 0) or wait for (other ranks) the run id in torchrun's agent store."""
    if environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or not environ.get("MASTER_PORT"):
        raise RuntimeError("Under several processes (WORLD_SIZE > 1) call torch.distributed.init_process_group() "
                           "before RunTracker starts, or launch with torchrun, so every rank gets rank 0's run id.")
    from torch.distributed import TCPStore

    store = TCPStore(environ.get("MASTER_ADDR", "127.0.0.1"), int(environ["MASTER_PORT"]), is_master=False,
                     timeout=dt.timedelta(seconds=STORE_TIMEOUT_S))
    key = _STORE_KEY.format(restart=environ.get("TORCHELASTIC_RESTART_COUNT", "0"), sequence=sequence)
    if run_id is not None:
        store.set(key, run_id)
        return run_id
    try:
        return store.get(key).decode("utf-8")
    except RuntimeError as exc:  # the store's timeout
        raise RuntimeError(f"Rank 0 did not share its run id within {STORE_TIMEOUT_S:.0f} s ({exc}); "
                           "check that rank 0 started its RunTracker too.") from None
