"""The access suite's repeated writes go at once only when they touch nobody in common, and
each stays after every earlier write that shares someone with it."""

from __future__ import annotations

import random

from harness.models import Observation
from scenarios.writes_as_others import LatestReads, rounds


def _touched(item: tuple[str, ...]) -> set[str]:
    return set(item)


def test_writes_touching_different_users_share_a_round() -> None:
    items = [("a", "b"), ("c", "d"), ("e", "f")]
    assert rounds(items, _touched) == [items]


def test_a_write_waits_for_every_earlier_one_it_shares_a_user_with() -> None:
    items = [("a", "b"), ("b", "c"), ("d", "e"), ("c", "f"), ("a", "g")]
    got = rounds(items, _touched)
    assert got == [[("a", "b"), ("d", "e")], [("b", "c"), ("a", "g")], [("c", "f")]]
    for batch in got:  # nobody twice in one round
        users = [u for item in batch for u in item]
        assert len(users) == len(set(users))
    # every pair sharing a user keeps its order
    where = {item: i for i, batch in enumerate(got) for item in batch}
    for i, first in enumerate(items):
        for later in items[i + 1 :]:
            if set(first) & set(later):
                assert where[first] < where[later]


def test_the_same_user_in_every_write_keeps_them_one_at_a_time() -> None:
    items = [("a", "b"), ("a", "c"), ("a", "d")]
    assert rounds(items, _touched) == [[item] for item in items]


def test_the_latest_own_read_is_the_one_a_backward_search_finds_as_the_journal_grows() -> None:
    rng = random.Random(7)
    journal: list[Observation] = []
    latest = LatestReads(journal)

    def backward(actor: str, endpoint: str) -> Observation | None:
        for o in reversed(journal):
            if o.actor == actor and o.endpoint == endpoint and o.read and o.status < 400:
                return o
        return None

    for step in range(400):
        actor, endpoint = rng.choice("abc"), rng.choice(["PUT /x", "PUT /y"])
        status, read = rng.choice([200, 200, 403, 500]), rng.choice([endpoint, ""])
        journal.append(
            Observation(actor, str(step), "PUT", "/", endpoint, status, (), b"", 0.0, read=read)
        )
        asked = (rng.choice("abc"), rng.choice(["PUT /x", "PUT /y"]))
        assert latest.of(*asked) is backward(*asked)
    journal.clear()  # a new seeding clears the journal: nothing of the old one is found
    assert latest.of("a", "PUT /x") is None
