from __future__ import annotations

from harness.models import CanaryKind
from harness.population import make_population


def test_same_seed_same_population_other_seed_differs() -> None:
    a, b, c = make_population(7, 4, 2), make_population(7, 4, 2), make_population(8, 4, 2)
    assert a == b
    assert a.ownership.canaries != c.ownership.canaries


def test_every_patient_datum_carries_a_unique_canary() -> None:
    pop = make_population(1, 5, 2, appointments_per_patient=3)
    values = [c.value for c in pop.ownership.canaries]
    assert len(values) == len(set(values))
    for patient in pop.patients:
        kinds = {c.kind for c in pop.ownership.for_owner(patient.username)}
        assert kinds == {CanaryKind.NAME, CanaryKind.NOTE, CanaryKind.NHS_NUMBER, CanaryKind.REASON}
        name_canary = next(
            c.value for c in pop.ownership.for_owner(patient.username) if c.kind is CanaryKind.NAME
        )
        assert name_canary in patient.display_name.lower()
    assert len(pop.appointments) == 15


def test_visibility_is_owner_plus_assigned_clinician_only() -> None:
    pop = make_population(3, 4, 2)
    for clinician in pop.clinicians:
        for patient in pop.patients:
            allowed = pop.ownership.may_see(clinician.username, patient.username)
            assert allowed == (patient.username in clinician.patients)
    p0, p1 = pop.patients[0].username, pop.patients[1].username
    assert pop.ownership.may_see(p0, p0)
    assert not pop.ownership.may_see(p1, p0)
    assert not pop.ownership.may_see("anonymous", p0)
