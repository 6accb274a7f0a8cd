"""Worlds and documents for the fuzz suite's unit tests: built in memory, no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clinic.app import create_app
from clinic.settings import ClinicSettings
from harness.models import Actor
from harness.population import Counts, make_population
from harness.profile import load_profile
from harness.profile.model import TargetProfile
from harness.world import Resource, World
from tests.services import vampi

# VAmPI's profile, and its own document from the tree its tests' server runs from
# (../shared/targets/VAmPI, or CHAPERONE_VAMPI_SOURCE).
VAMPI_PROFILE = vampi.PROFILE
VAMPI_DOCUMENT = vampi.SOURCE / "openapi_specs" / "openapi3.yml"


def clinic_profile() -> TargetProfile:
    return load_profile("clinic").profile


def clinic_document(tmp: Path) -> dict[str, Any]:
    """The clinic's own OpenAPI document, as it serves it."""
    app = create_app(ClinicSettings(data_dir=tmp / "clinic", support_token="t"))
    return app.openapi()


def memory_world(profile: TargetProfile, seed: int = 3, patients: int = 3) -> World:
    """What seeding would give, with made-up server ids (users 100+, resources 1+)."""
    population = make_population(profile, seed, Counts(owners=patients, observers=2, per_owner=2))
    actors = {
        u.id: Actor(u.id, u.role, u.display_name, {**u.fields, "id": 100 + i})
        for i, u in enumerate(population.users)
    }
    resources = tuple(
        Resource(r.kind, r.owner, r.index, {**r.fields, "id": i + 1, "consultation_id": i + 1})
        for i, r in enumerate(population.resources)
    )
    return World(
        "http://127.0.0.1:9", seed, actors, population.ownership, resources, {}, population.tag
    )
