"""A target without a reset keeps data no run of ours created: it must never be judged.

Appointments lists are `exact` in the clinic profile, so an item of an unknown owner is both a
foreign item (list-ownership) and one too many (list-count) when every item is ours (a target
that is reset). Without a reset such an item is an earlier run's or a real user's: neither.
"""

from __future__ import annotations

import json

import pytest

from harness.client.listing import EntityParser
from harness.models import Actor, Observation
from harness.oracles import Judge, OracleContext
from harness.population import Counts, make_population
from harness.profile import load_profile
from harness.profile.model import TargetProfile
from harness.profile.noreset import seeding_hint
from harness.world import Resource, World

CLINIC = load_profile("clinic").profile
NO_RESET = CLINIC.model_copy(update={"reset": []})
ROUTE = "GET /api/me/appointments"


def world_of(profile: TargetProfile) -> World:
    population = make_population(
        profile, 3, Counts(owners=2, observers=1, per_owner=1), namespace=""
    )
    actors = {
        u.id: Actor(u.id, u.role, u.display_name, {**u.fields, "id": f"srv-{u.id}"})
        for u in population.users
    }
    resources = tuple(
        Resource(r.kind, r.owner, r.index, dict(r.fields)) for r in population.resources
    )
    return World("http://t", 3, actors, population.ownership, resources, {}, population.tag)


def listing_obs(actor: str, *owners: str) -> Observation:
    items = [{"id": str(i), "patient_id": owner} for i, owner in enumerate(owners)]
    return Observation(
        actor=actor,
        step="look",
        method="GET",
        url="/api/me/appointments",
        endpoint=ROUTE,
        status=200,
        headers=(("content-type", "application/json"),),
        body=json.dumps({"items": items}).encode(),
        time=1000.0,
        content_type="application/json",
    )


def judged(profile: TargetProfile, *extra_owners: str) -> set[tuple[str, str | None]]:
    world = world_of(profile)
    patient = world.of_role("patient")[0]
    own = [f"srv-{patient.id}"] * len(world.resources_of(patient.id, "appointment"))
    parser = EntityParser(profile, world)
    judge = Judge(OracleContext.for_world(world, parser.listing), ["list-ownership", "list-count"])
    return {(f.check, f.owner) for f in judge(listing_obs(patient.id, *own, *extra_owners))}


def test_with_a_reset_an_unknown_owner_is_a_leak_and_a_miscount() -> None:
    assert judged(CLINIC, "srv-stranger") == {("list-ownership", None), ("list-count", None)}


def test_without_a_reset_data_of_nobody_we_seeded_is_ignored() -> None:
    assert judged(NO_RESET) == set()
    assert judged(NO_RESET, "srv-stranger", "srv-earlier-run") == set()


def test_without_a_reset_another_synthetic_users_item_is_still_a_leak() -> None:
    world = world_of(NO_RESET)
    other = world.of_role("patient")[1]
    assert judged(NO_RESET, "srv-stranger", f"srv-{other.id}") == {
        ("list-ownership", other.id),
        ("list-count", None),
    }


@pytest.mark.parametrize("status", [200, 400, 409, 422])
def test_a_refused_registration_without_a_reset_points_at_the_reset(status: int) -> None:
    hint = seeding_hint(NO_RESET, "create", status, "logs")
    assert "no `reset:`" in hint and "support token" not in hint
    assert "reset" in seeding_hint(CLINIC, "create", status, "logs")


def test_other_seeding_failures_keep_their_hint() -> None:
    assert seeding_hint(NO_RESET, "create", 500, "logs") == "logs"
    assert seeding_hint(NO_RESET, "relate/care", 409, "logs") == "logs"
