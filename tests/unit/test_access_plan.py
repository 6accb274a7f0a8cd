"""The access matrix is linear in users and still covers every (owner, observer) pair over the
policy's seeds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.models import ANONYMOUS_ID, Observation
from scenarios.access import INSTANCES, SAMPLE_MAX, plan, unique_reads
from tests.worlds import make_world

READ = Observation(
    actor="",
    step="switch/s/x/look",
    method="GET",
    url="/",
    endpoint="GET /x/{id}",
    status=200,
    headers=(),
    body=b"{}",
    time=1000.0,
    read="GET /x/{id}",
)


def _world(patients: int, clinicians: int):  # type: ignore[no-untyped-def]
    names = [f"p{i}" for i in range(patients)]
    care = {f"c{j}": names[j::clinicians] for j in range(clinicians)}
    return make_world(names, care)


ROUTES = ("GET /x/{id}", "GET /y/{id}", "GET /list")


def _reads(world, per_owner: int) -> list[Observation]:  # type: ignore[no-untyped-def]
    owners = [a for a in world.actors if a.startswith("p")]
    return [
        replace(READ, actor=owner, url=f"/{route[5]}/{owner}-{k}", endpoint=route, read=route)
        for owner in owners
        for route in ROUTES
        for k in range(per_owner)
    ]


def test_cost_is_linear_in_users() -> None:
    """Per (route, owner) group the cost is bounded, whatever the population and however
    many reads a group has (a patient's 25 recordings are one group per route)."""
    small, big = _world(10, 2), _world(40, 8)
    per_owner_small = len(plan(small, _reads(small, 6), 0, seeds=3)) / 10
    per_owner_big = len(plan(big, _reads(big, 25), 0, seeds=3)) / 40
    bound = len(ROUTES) * (INSTANCES * (1 + 4 + 1) + SAMPLE_MAX)
    assert per_owner_big <= bound and per_owner_small <= bound
    assert per_owner_big <= 1.5 * per_owner_small


def test_every_read_is_repeated_by_the_owner_each_relation_class_and_anonymously() -> None:
    world = _world(6, 2)
    replays = plan(world, _reads(world, 1), seed=0, seeds=1)
    for_p0 = [r for r in replays if r.original.actor == "p0"]
    whys = {r.why for r in for_p0}
    assert {"owner", "related", "unrelated", "anonymous", "sample"} <= whys
    related = [r.observer for r in for_p0 if r.why == "related"]
    assert related and all(world.ownership.may_see(o, "p0") for o in related)
    assert any(r.observer == ANONYMOUS_ID for r in for_p0)


@pytest.mark.parametrize(("patients", "clinicians", "seeds"), [(20, 4, 3), (8, 2, 2)])
def test_every_pair_is_covered_over_the_policy_seeds(
    patients: int, clinicians: int, seeds: int
) -> None:
    """On every route: a leak that only one other user receives (the neighbour) is found."""
    world = _world(patients, clinicians)
    reads = _reads(world, 6)
    covered: set[tuple[str, str, str]] = set()
    for seed in range(seeds):
        covered |= {
            (r.original.endpoint, r.original.actor, r.observer)
            for r in plan(world, reads, seed, seeds)
        }
    actors = set(world.actors)
    owners = {a for a in actors if a.startswith("p")}
    wanted = {(route, o, b) for route in ROUTES for o in owners for b in actors if b != o}
    missing = wanted - covered
    assert not missing, sorted(missing)[:5]


def test_the_plan_is_deterministic_for_a_seed_and_rotates_with_it() -> None:
    world = _world(20, 4)
    reads = _reads(world, 6)
    assert plan(world, reads, 1, 3) == plan(world, reads, 1, 3)

    def sampled(seed: int) -> set[tuple[str, str, str]]:
        return {
            (r.original.endpoint, r.original.actor, r.observer)
            for r in plan(world, reads, seed, 3)
            if r.why == "sample"
        }

    assert sampled(1) != sampled(2)


def test_the_owners_read_is_kept_whichever_look_finished_first() -> None:
    """Looks end in any order. When the related clinician's read of a recording reached the
    journal before its owner's, keeping the clinician's would drop the clinician's replay (a
    read is never replayed as its own reader) and with it the check after a deletion. The
    owner's read is kept, and the clinician replays it."""
    world = _world(2, 1)
    url = "/x/p0-rec"
    by_clinician = replace(READ, actor="c0", url=url, about="p0")
    by_owner = replace(READ, actor="p0", url=url)
    for journal in ([by_clinician, by_owner], [by_owner, by_clinician]):
        (kept,) = unique_reads(journal)
        assert kept.actor == "p0"
        replays = plan(world, [kept], seed=0, seeds=1)
        assert any(r.observer == "c0" and r.why == "related" for r in replays)


def _variant_reads(world, kinds: int, per_kind: int) -> list[Observation]:  # type: ignore[no-untyped-def]
    owners = [a for a in world.actors if a.startswith("p")]
    return [
        replace(
            READ,
            actor=owner,
            url=f"/x/{owner}?k={k}&v={v}",
            endpoint=f"GET /x/{{id}} (variant: k{k})",
            read=f"GET /x/{{id}} (variant: k{k})",
            sent_headers=(("Accept", f"type/{v}"),),
        )
        for owner in owners
        for k in range(kinds)
        for v in range(per_kind)
    ]


def test_a_variant_is_repeated_by_each_relation_class_and_anonymously_only() -> None:
    """A request shape the owner sent is repeated as someone related and someone unrelated of
    each role, and anonymously: not by the owner again, not by the sample."""
    world = _world(6, 2)
    replays = plan(world, _variant_reads(world, kinds=1, per_kind=1), seed=0, seeds=1)
    for_p0 = [r for r in replays if r.original.actor == "p0"]
    assert sorted(r.why for r in for_p0) == ["anonymous", "related", "unrelated", "unrelated"]
    assert all(r.observer != "p0" for r in for_p0)
    related = [r.observer for r in for_p0 if r.why == "related"]
    assert all(world.ownership.may_see(o, "p0") for o in related)
    unrelated = {world.actors[r.observer].role for r in for_p0 if r.why == "unrelated"}
    assert len(unrelated) == 2  # a patient and a clinician who may not see p0's data


def test_each_variant_costs_a_constant_whatever_the_population() -> None:
    """Every variant is repeated (they are few: bounded where they are sent), each as the same
    four classes (an unrelated patient, a related and an unrelated clinician, anonymous)."""
    for patients, clinicians in ((6, 2), (40, 8)):
        world = _world(patients, clinicians)
        replays = plan(world, _variant_reads(world, kinds=2, per_kind=3), seed=0, seeds=3)
        for_p0 = [r for r in replays if r.original.actor == "p0"]
        assert len(for_p0) == 6 * 4
        assert len({(r.original.url, r.original.sent_headers) for r in for_p0}) == 6


def test_variant_replays_are_seeded() -> None:
    world = _world(20, 4)
    reads = _variant_reads(world, kinds=2, per_kind=3)
    once = [(r.original.url, r.observer) for r in plan(world, reads, seed=0, seeds=3)]
    assert once == [(r.original.url, r.observer) for r in plan(world, reads, seed=0, seeds=3)]
    other = [(r.original.url, r.observer) for r in plan(world, reads, seed=1, seeds=3)]
    assert other != once
