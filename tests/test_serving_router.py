"""The router: weights hold over many ids, an id stays on its version, bad weights are refused with a sentence."""

from __future__ import annotations

from collections import Counter

import pytest
from curvewatch.serving import Arm, Router

ARMS = [Arm("v1", "primary"), Arm("v2", "canary", 0.1), Arm("v3", "canary", 0.3), Arm("v4", "shadow")]


def test_split_is_within_three_points_of_the_weights() -> None:
    router = Router(ARMS)
    counts = Counter(router.route(f"customer-{i}").served for i in range(2000))
    for name, weight in (("v1", 0.6), ("v2", 0.1), ("v3", 0.3)):
        assert abs(counts[name] / 2000 - weight) <= 0.03, (name, counts)
    assert "v4" not in counts  # a shadow never answers


def test_split_without_ids_uses_fresh_random_ids() -> None:
    from curvewatch.serving import new_id

    router = Router([Arm("v1", "primary"), Arm("v2", "canary", 0.5)])
    share = sum(router.route(new_id()).served == "v2" for _ in range(2000)) / 2000
    assert abs(share - 0.5) <= 0.03


def test_sticky_ids_stay_on_their_version() -> None:
    router = Router(ARMS)
    first = {f"customer-{i}": router.route(f"customer-{i}").served for i in range(300)}
    again = Router(list(reversed(ARMS)))  # a restarted service with the same versions and weights
    for request_id, served in first.items():
        assert router.route(request_id).served == served
        assert again.route(request_id).served == served


def test_every_route_has_a_reason_and_the_shadows() -> None:
    route = Router(ARMS).route("customer-1")
    assert route.shadows == ("v4",)
    assert route.served in route.reason and "id hashes to" in route.reason


@pytest.mark.parametrize(("arms", "message"), [
    ([Arm("v2", "canary", 0.1)], "exactly one primary version, got 0"),
    ([Arm("v1", "primary"), Arm("v2", "canary", 1.5)], "between 0 and 1"),
    ([Arm("v1", "primary"), Arm("v2", "canary", 0.6), Arm("v3", "canary", 0.6)], "add up to 1.2"),
    ([Arm("v1", "primary"), Arm("v2", "blue")], "`role` can be primary, canary, shadow"),
])
def test_bad_arms_are_refused_with_a_sentence(arms: list[Arm], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Router(arms)
