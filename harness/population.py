"""Synthetic patients, clinicians and appointments, with a canary in every patient datum.

Everything is drawn from one `random.Random(seed)`, so a run is reproducible from `--seed`.
Names look like names ("Ada Zq4k2m9x1p Lovelace") because targets validate and render them like
real data; the canary inside is what the oracle looks for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.canaries import OwnershipModel, make_canary
from harness.models import Canary, CanaryKind

_FIRST = ("Ada", "Ben", "Cara", "Dev", "Esme", "Femi", "Gita", "Hal", "Ines", "Jon", "Kemi", "Luca")
_LAST = ("Lovelace", "Okafor", "Patel", "Nowak", "Byrne", "Singh", "Moreau", "Haddad", "Quinn")
_CONDITIONS = ("rash", "cough", "back pain", "migraine", "asthma review", "blood pressure")


@dataclass(frozen=True, slots=True)
class PatientSpec:
    username: str
    password: str
    display_name: str
    nhs_number: str
    notes: str


@dataclass(frozen=True, slots=True)
class ClinicianSpec:
    username: str
    password: str
    display_name: str
    patients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppointmentSpec:
    patient: str
    clinician: str
    reason: str
    starts_at: str


@dataclass(frozen=True, slots=True)
class Population:
    seed: int
    patients: tuple[PatientSpec, ...]
    clinicians: tuple[ClinicianSpec, ...]
    appointments: tuple[AppointmentSpec, ...]
    ownership: OwnershipModel


def _nhs_like(rng: random.Random) -> str:
    # The 999 range is the NHS's own range for test numbers, so no real patient has one. It
    # is spaced like a real NHS number, so it cannot collide with a timestamp or id in JSON,
    # and its fixed "99" start keeps the matcher's prefix filter on (see harness.matcher).
    digits = "".join(rng.choice("0123456789") for _ in range(7))
    return f"999 {digits[:3]} {digits[3:]}"


def make_population(
    seed: int, patients: int, clinicians: int, appointments_per_patient: int = 2
) -> Population:
    rng = random.Random(seed)
    tag = f"{rng.randrange(16**6):06x}"
    canaries: list[Canary] = []
    patient_specs: list[PatientSpec] = []
    for i in range(patients):
        username = f"p{i}-{tag}"
        name_canary, note_canary = make_canary(rng), make_canary(rng)
        name = f"{rng.choice(_FIRST)} {name_canary.capitalize()} {rng.choice(_LAST)}"
        nhs = _nhs_like(rng)
        notes = f"Allergic to penicillin & <latex>; ref {note_canary}"
        patient_specs.append(PatientSpec(username, f"pw-{make_canary(rng)}", name, nhs, notes))
        canaries += [
            Canary(name_canary, username, CanaryKind.NAME, "patient name"),
            Canary(note_canary, username, CanaryKind.NOTE, "clinical notes"),
            Canary(nhs, username, CanaryKind.NHS_NUMBER, "NHS number"),
        ]
    assigned: dict[str, list[str]] = {f"c{j}-{tag}": [] for j in range(clinicians)}
    clinician_names = list(assigned)
    for i, patient in enumerate(patient_specs):
        assigned[clinician_names[i % clinicians]].append(patient.username)
    clinician_specs = tuple(
        ClinicianSpec(c, f"pw-{make_canary(rng)}", f"Dr {rng.choice(_LAST)} {j}", tuple(ps))
        for j, (c, ps) in enumerate(assigned.items())
    )
    appointment_specs: list[AppointmentSpec] = []
    for i, patient in enumerate(patient_specs):
        for k in range(appointments_per_patient):
            reason_canary = make_canary(rng)
            reason = f"Follow-up: {rng.choice(_CONDITIONS)} ({reason_canary})"
            appointment_specs.append(
                AppointmentSpec(
                    patient.username,
                    clinician_names[i % clinicians],
                    reason,
                    f"2026-12-{1 + (i + k) % 28:02d}T{9 + k % 8:02d}:00:00",
                )
            )
            canaries.append(
                Canary(reason_canary, patient.username, CanaryKind.REASON, "appointment reason")
            )
    visibility = {
        p: [c.username for c in clinician_specs if p in c.patients] for p in assigned_all(assigned)
    }
    return Population(
        seed=seed,
        patients=tuple(patient_specs),
        clinicians=clinician_specs,
        appointments=tuple(appointment_specs),
        ownership=OwnershipModel.build(canaries, visibility),
    )


def assigned_all(assigned: dict[str, list[str]]) -> list[str]:
    return [p for ps in assigned.values() for p in ps]
