"""Switch scenarios under several seeds: each is played by a window of owners, every owner plays
every scenario over the seeds, and clinicians always look."""

from __future__ import annotations

import pytest

from harness.world import World
from scenarios.cast import AUDIENCE_SAMPLE, MIN_CAST, cast_for
from tests.worlds import make_world

SCENARIOS = 10


def _world(patients: int, clinicians: int) -> World:
    names = [f"p{i}" for i in range(patients)]
    care = {f"c{j}": names[j::clinicians] for j in range(clinicians)}
    return make_world(names, care, appointments=dict.fromkeys(names, SCENARIOS))


def test_one_seed_plays_every_owner_in_every_scenario() -> None:
    world = _world(20, 4)
    assert all(cast_for(world, i, seed=7, seeds=1) is None for i in range(SCENARIOS))


def test_a_small_population_is_never_split() -> None:
    """Below MIN_CAST owners per window there is no crowd left to race: everyone plays."""
    world = _world(MIN_CAST, 1)
    assert cast_for(world, 0, seed=0, seeds=3) is None


@pytest.mark.parametrize(("patients", "seeds"), [(20, 3), (21, 3), (8, 2), (64, 3), (13, 5)])
@pytest.mark.parametrize("base", [0, 5])
def test_over_the_seeds_every_owner_plays_every_scenario(
    patients: int, seeds: int, base: int
) -> None:
    world = _world(patients, 4)
    owners = {f"p{i}" for i in range(patients)}
    for index in range(SCENARIOS):
        played: set[str] = set()
        for seed in range(base, base + seeds):
            cast = cast_for(world, index, seed, seeds)
            assert cast is not None
            assert len(cast.players) >= MIN_CAST
            assert len(cast.players) == -(-patients // seeds) or len(cast.players) == MIN_CAST
            assert cast.players | cast.resting == owners and not cast.players & cast.resting
            played |= cast.players
        assert played == owners, f"scenario {index}: {sorted(owners - played)} never played"


def test_within_a_seed_the_scenarios_spread_over_the_owners() -> None:
    world = _world(20, 4)
    played = set()
    for index in range(SCENARIOS):
        cast = cast_for(world, index, seed=0, seeds=3)
        assert cast is not None
        played |= cast.players
    assert played == {f"p{i}" for i in range(20)}


def test_the_audience_is_the_cast_every_clinician_and_a_sample_of_the_rest() -> None:
    world = _world(20, 4)
    cast = cast_for(world, 3, seed=1, seeds=3)
    assert cast is not None
    audience = set(cast.audience)
    assert cast.players <= audience
    assert {"c0", "c1", "c2", "c3"} <= audience
    outsiders = audience - cast.players - {"c0", "c1", "c2", "c3"}
    assert len(outsiders) == AUDIENCE_SAMPLE
    assert all(o.startswith("p") for o in outsiders)


def test_the_cast_does_not_depend_on_the_seed_tag_in_ids() -> None:
    """Two seeds' worlds differ in the tag of their ids; windows must tile by position."""
    plain = _world(20, 4)
    tagged = make_world(
        [f"p{i}-ab12" for i in range(20)],
        {f"c{j}-ab12": [f"p{i}-ab12" for i in range(j, 20, 4)] for j in range(4)},
        appointments={f"p{i}-ab12": SCENARIOS for i in range(20)},
    )
    for seed in range(3):
        a, b = cast_for(plain, 2, seed, 3), cast_for(tagged, 2, seed, 3)
        assert a is not None and b is not None
        assert {p.split("-")[0] for p in b.players} == a.players
