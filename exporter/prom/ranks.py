"""Multi-process training (torchrun): which rank serves an endpoint, and on which port.

- ``ranks="all"``: every rank serves on ``base_port + LOCAL_RANK`` (so the ranks of one host do not
  collide) and labels its series with its own ``rank``; ``base_port=0`` gives each rank a free port.
- ``ranks="zero"``: only global rank 0 (``RANK``) serves and pushes; every other rank's exporter is a
  no-op (``start()`` returns None, ``push()`` does nothing).
"""

from __future__ import annotations

from curvewatch.prom._names import RANKS_ALL, RANKS_CHOICES, RANKS_ZERO

__all__ = ["check_ranks", "endpoint_port", "is_active"]


def check_ranks(ranks: str) -> str:
    if ranks not in RANKS_CHOICES:
        raise ValueError(f"`ranks` can be {', '.join(RANKS_CHOICES)}, got {ranks!r}.")
    return ranks


def is_active(ranks: str, rank: int) -> bool:
    """Whether this process serves and pushes at all."""
    return check_ranks(ranks) == RANKS_ALL or rank == 0


def endpoint_port(base_port: int, ranks: str, rank: int, local_rank: int) -> int | None:
    """The port this process listens on, or None when it does not serve."""
    if not is_active(ranks, rank):
        return None
    if base_port == 0 or ranks == RANKS_ZERO:
        return base_port
    return base_port + local_rank
