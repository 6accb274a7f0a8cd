"""Worlds built in memory from a profile's synthetic population, for tests that need no server.

Server ids are what seeding would have captured: users get `id` 1, 2 ... in population order,
appointments get `id` and `consultation_id`, books nothing (VAmPI captures nothing for them).
"""

from __future__ import annotations

from typing import Any

from harness.models import Actor
from harness.population import Counts, make_population
from harness.profile import load_profile
from harness.profile.model import TargetProfile
from harness.world import Resource, World
from tests.services.vampi import PROFILE as VAMPI_PROFILE


def clinic_profile() -> TargetProfile:
    return load_profile("clinic").profile


def vampi_profile() -> TargetProfile:
    return load_profile(VAMPI_PROFILE).profile


def memory_world(
    seed: int = 7,
    patients: int = 4,
    clinicians: int = 2,
    appointments: int = 2,
    profile: TargetProfile | None = None,
    heavy: int = 0,
) -> World:
    # No heavy owners unless asked: the load tests count journeys and reads per resource of a
    # world whose size they state (a heavy owner's 101 appointments would change every count).
    profile = profile or clinic_profile()
    population = make_population(
        profile,
        seed,
        Counts(owners=patients, observers=clinicians, per_owner=appointments, heavy=heavy),
    )
    actors = {
        user.id: Actor(user.id, user.role, user.display_name, {**user.fields, "id": n + 1})
        for n, user in enumerate(population.users)
    }
    resources = []
    for n, planned in enumerate(population.resources):
        values: dict[str, Any] = dict(planned.fields)
        if planned.kind == "appointment":
            values |= {"id": n + 1, "consultation_id": n + 1}
        resources.append(Resource(planned.kind, planned.owner, planned.index, values))
    document = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return World(
        target="http://127.0.0.1:9",
        seed=seed,
        actors=actors,
        ownership=population.ownership,
        resources=tuple(resources),
        profile=document,
        tag=population.tag,
    )


def of_role(world: World, role: str) -> list[str]:
    return sorted(a.id for a in world.actors.values() if a.role == role)
