"""Small hand-built Worlds for unit tests: patients p1..pN, clinicians assigned to some of
them (relation `care`), appointment resources, and server ids in actor vars."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from harness.canaries import OwnershipModel
from harness.models import Actor, Canary
from harness.world import Resource, World

PATIENT, CLINICIAN = "patient", "clinician"

# A profile document with the clinic's lists, so listing_parser(world) works in unit tests.
LIST_PROFILE = {
    "name": "unit",
    "roles": {PATIENT: {}, CLINICIAN: {}},
    "auth": {"login": [{"post": "/api/login"}]},
    "entities": {
        "recording": {
            "lists": ["GET /api/me/recordings", "GET /api/clinician/recordings"],
            "owner": {"field": "/patient_id", "var": "id"},
        },
        "appointment": {
            "lists": ["GET /api/me/appointments"],
            "owner": {"field": "/patient_id", "var": "id"},
            "exact": True,
        },
    },
}


def make_world(
    patients: Iterable[str],
    assignments: Mapping[str, Iterable[str]],
    canaries: Iterable[Canary] = (),
    appointments: Mapping[str, int] | None = None,
    server_ids: Mapping[str, int] | None = None,
    profile: Mapping[str, object] | None = None,
) -> World:
    """`assignments` maps each clinician to the patients it may see."""
    ids = dict(server_ids or {})
    actors = {
        p: Actor(p, PATIENT, vars={"username": p, **({"id": ids[p]} if p in ids else {})})
        for p in patients
    }
    for clinician in assignments:
        actors[clinician] = Actor(clinician, CLINICIAN, vars={"username": clinician})
    visibility: dict[str, set[str]] = {}
    for clinician, mine in assignments.items():
        for patient in mine:
            visibility.setdefault(patient, set()).add(clinician)
    resources = tuple(
        Resource("appointment", patient, k, {"id": 1000 * i + k})
        for i, (patient, count) in enumerate((appointments or {}).items())
        for k in range(count)
    )
    return World(
        target="http://127.0.0.1:1",
        seed=42,
        actors=actors,
        ownership=OwnershipModel.build(canaries, visibility),
        resources=resources,
        profile=dict(profile if profile is not None else LIST_PROFILE),
    )
