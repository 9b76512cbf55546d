"""``Router``: which served version answers a request (A/B split, canary, sticky ids, shadows), with a reason.

    router = Router([Arm("v3", "primary"), Arm("v4", "canary", 0.1), Arm("v5", "shadow")])
    route = router.route("customer-42")   # Route(served="v3", shadows=("v5",), reason="...")

The decision is pure: the request id is hashed (BLAKE2b) to a point in [0, 1) and the arm whose share
holds it answers, so the same id always gets the same version (sticky, also across restarts that list the
versions in another order: shares are laid out by name) and, over many ids, each canary
gets its weight of the traffic; the primary gets the rest. Shadows predict every request (they are scored
against the actuals) but their answer is never returned. A request without an id gets a fresh random id
(``new_id``), so it is split like the rest and its actuals can still be joined.

Guarantees (tests named after them in ``tests/test_serving_router.py``):
- split_is_within_three_points_of_the_weights: over 2,000 request ids each arm's share is within ±0.03.
- sticky_ids_stay_on_their_version: the same id is routed to the same arm every time.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ._names import ROLES

__all__ = ["Arm", "Route", "Router", "new_id"]

_HASH_SPACE = float(2**64)


@dataclass(frozen=True)
class Arm:
    """One served version: its ``name`` (the key of its monitor), ``role`` and, for a canary, its ``weight``."""

    name: str
    role: str
    weight: float = 0.0


@dataclass(frozen=True)
class Route:
    served: str
    shadows: tuple[str, ...]
    reason: str


def new_id() -> str:
    """A fresh prediction id (random, 32 hex digits)."""
    return uuid.uuid4().hex


def _point(request_id: str) -> float:
    digest = hashlib.blake2b(request_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPACE


class Router:
    """Routes request ids over one primary, any canaries (weights summing below 1) and any shadows."""

    def __init__(self, arms: Sequence[Arm]) -> None:
        for arm in arms:
            if arm.role not in ROLES:
                raise ValueError(f"`role` can be {', '.join(ROLES)}, got {arm.role!r} for {arm.name}.")
        primaries = [a for a in arms if a.role == "primary"]
        if len(primaries) != 1:
            raise ValueError(f"A router needs exactly one primary version, got {len(primaries)}.")
        canaries = sorted((a for a in arms if a.role == "canary"), key=lambda a: a.name)  # shares by name, not order
        if any(not 0 < a.weight < 1 for a in canaries):
            raise ValueError("Each canary weight must be between 0 and 1 (0.1 sends it 10% of the requests), got "
                             f"{', '.join(f'{a.name}={a.weight:g}' for a in canaries)}.")
        rest = 1.0 - sum(a.weight for a in canaries)
        if rest <= 0:
            raise ValueError(f"The canary weights add up to {1 - rest:g}; leave the primary a share (sum below 1).")
        self.primary, self.canaries = primaries[0], tuple(canaries)
        self.shadows = tuple(a.name for a in arms if a.role == "shadow")
        self.weights = {self.primary.name: rest, **{a.name: a.weight for a in canaries},
                        **{name: 0.0 for name in self.shadows}}
        self._shares: list[tuple[float, Arm]] = []  # (upper end of the arm's share, arm), canaries first
        upper = 0.0
        for arm in canaries:
            upper += arm.weight
            self._shares.append((upper, arm))

    def route(self, request_id: str) -> Route:
        """The arm answering ``request_id`` (and the shadows), with the reason."""
        point = _point(request_id)
        lower = 0.0
        for upper, arm in self._shares:
            if point < upper:
                return Route(arm.name, self.shadows, f"id hashes to {point:.3f}, inside canary {arm.name}'s share "
                                                     f"[{lower:.3f}, {upper:.3f})")
            lower = upper
        return Route(self.primary.name, self.shadows,
                     f"id hashes to {point:.3f}, inside primary {self.primary.name}'s share [{lower:.3f}, 1)")
