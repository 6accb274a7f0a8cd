"""The access matrix is linear in users and still covers every (owner, observer) pair over the
policy's seeds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.models import ANONYMOUS_ID, Observation
from scenarios.access import SAMPLE, plan
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


def _reads(world, per_owner: int) -> list[Observation]:  # type: ignore[no-untyped-def]
    owners = [a for a in world.actors if a.startswith("p")]
    return [
        replace(READ, actor=owner, url=f"/x/{owner}-{k}")
        for owner in owners
        for k in range(per_owner)
    ]


def test_cost_is_linear_in_users() -> None:
    small, big = _world(10, 2), _world(40, 8)
    per_read_small = len(plan(small, _reads(small, 6), 0)) / len(_reads(small, 6))
    per_read_big = len(plan(big, _reads(big, 6), 0)) / len(_reads(big, 6))
    assert per_read_big == pytest.approx(per_read_small, abs=1.0)
    assert per_read_big <= 1 + 4 + SAMPLE + 1  # owner, relation classes, sample, anonymous


def test_every_read_is_repeated_by_the_owner_each_relation_class_and_anonymously() -> None:
    world = _world(6, 2)
    replays = plan(world, _reads(world, 1), seed=0)
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
    world = _world(patients, clinicians)
    reads = _reads(world, 6)
    covered: set[tuple[str, str]] = set()
    for seed in range(seeds):
        covered |= {(r.original.actor, r.observer) for r in plan(world, reads, seed)}
    actors = set(world.actors)
    owners = {a for a in actors if a.startswith("p")}
    missing = {(o, b) for o in owners for b in actors if b != o} - covered
    assert not missing, sorted(missing)[:5]


def test_the_plan_is_deterministic_for_a_seed_and_rotates_with_it() -> None:
    world = _world(20, 4)
    reads = _reads(world, 6)
    assert plan(world, reads, 1) == plan(world, reads, 1)
    assert {r.observer for r in plan(world, reads, 1) if r.why == "sample"} != {
        r.observer for r in plan(world, reads, 2) if r.why == "sample"
    }
