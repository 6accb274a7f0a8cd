"""A World built in memory from the synthetic population, for tests that need no server."""

from __future__ import annotations

from harness.models import Actor, Role
from harness.population import make_population
from harness.world import SeededAppointment, World


def memory_world(seed: int = 7, patients: int = 4, clinicians: int = 2) -> World:
    population = make_population(seed, patients, clinicians)
    actors = {
        p.username: Actor(p.username, Role.PATIENT, p.display_name, p.password)
        for p in population.patients
    }
    for c in population.clinicians:
        actors[c.username] = Actor(
            c.username, Role.CLINICIAN, c.display_name, c.password, frozenset(c.patients)
        )
    appointments = tuple(
        SeededAppointment(id=i + 1, consultation_id=i + 1, patient=a.patient, clinician=a.clinician)
        for i, a in enumerate(population.appointments)
    )
    server_ids = {p.username: i + 1 for i, p in enumerate(population.patients)}
    return World(
        target="http://127.0.0.1:9",
        seed=seed,
        actors=actors,
        ownership=population.ownership,
        appointments=appointments,
        server_ids=server_ids,
    )
