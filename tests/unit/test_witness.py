"""The positive control (scenarios.controls.Witness): whether a look held any of the looker's own
canaries, and which resources' canaries never reached their owner. It searches each body only
for the canaries not found yet; these tests hold it to the plain search of every canary."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.models import Canary, Observation
from harness.world import World
from scenarios.controls import Witness

OWNERS = ("p0", "p1")
VALUES = ("ab", "abc", "bcd", "zz", "x1", "AB9")  # prefixes and overlaps on purpose


def _world(canaries: list[Canary]) -> World:
    return cast(World, SimpleNamespace(ownership=SimpleNamespace(canaries=canaries)))


def _canaries(shown: list[bool]) -> list[Canary]:
    return [
        Canary(value, owner, "note", resource=f"r:{owner}:{i}", shown=show)
        for i, (value, show) in enumerate(zip(VALUES, shown, strict=False))
        for owner in OWNERS
        if not (owner == "p1" and i % 2)  # owners hold different sets
    ]


def _obs(actor: str, body: str, status: int = 200) -> Observation:
    return Observation(
        actor=actor,
        step="s",
        method="GET",
        url="/x",
        endpoint="GET /x",
        status=status,
        headers=(("content-type", "application/json"),),
        body=body.encode(),
        time=0.0,
        content_type="application/json",
    )


def _plain(canaries: list[Canary], looks: list[list[Observation]]) -> tuple[list[bool], list[str]]:
    """Every shown canary searched in every body: what the witness must agree with."""
    own: dict[str, dict[bytes, Canary]] = {}
    for c in canaries:
        if c.shown:
            own.setdefault(c.owner, {})[c.value.lower().encode()] = c
    seen: dict[str, set[bytes]] = {}
    answers = []
    for look in looks:
        found: set[bytes] = set()
        for obs in look:
            if obs.actor in own and obs.status < 400:
                hits = {v for v in own[obs.actor] if v in obs.body.lower()}
                seen.setdefault(obs.actor, set()).update(hits)
                found |= hits
        answers.append(bool(found))
    gaps = {
        c.resource
        for owner, values in own.items()
        for value, c in values.items()
        if c.resource and value not in seen.get(owner, set())
    }
    return answers, sorted(gaps)


bodies = st.text(alphabet="abcdzx19AB ", max_size=12)
looks_ = st.lists(
    st.lists(
        st.builds(_obs, st.sampled_from(OWNERS), bodies, st.sampled_from([200, 200, 404])),
        max_size=4,
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.booleans(), min_size=len(VALUES), max_size=len(VALUES)), looks_)
def test_the_witness_agrees_with_searching_every_canary_in_every_body(
    shown: list[bool], looks: list[list[Observation]]
) -> None:
    canaries = _canaries(shown)
    witness = Witness(_world(canaries))
    answers = [witness.saw(look) for look in looks]
    assert (answers, witness.missing()) == _plain(canaries, looks)


def test_a_canary_seen_once_still_counts_in_a_later_look() -> None:
    witness = Witness(_world(_canaries([True] * len(VALUES))))
    assert witness.saw([_obs("p0", "zz")])
    assert witness.saw([_obs("p0", "-- zz --")])  # no new canary, but one of the owner's
    assert not witness.saw([_obs("p0", "nothing here")])
    assert not witness.saw([_obs("p0", "zz", status=404)])


def test_a_look_without_own_data_is_a_problem_with_its_place() -> None:
    witness = Witness(_world(_canaries([True] * len(VALUES))))
    witness.look("p0", [_obs("p0", "{}")], "s step 1")
    assert witness.problems == ["p0 saw none of their own data in 1 read(s) at s step 1"]
    assert witness.missing()  # nothing was ever seen: every shown resource is missing
