"""The seeded world: the synthetic population as it exists on the target after seeding.

It is what every suite starts from, and it is written to `world.json` so that processes the
harness spawns (Locust workers) judge responses with exactly the same ownership model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.canaries import OwnershipModel
from harness.errors import ConfigError
from harness.models import Actor, Role


@dataclass(frozen=True, slots=True)
class SeededAppointment:
    id: int
    consultation_id: int
    patient: str  # actor id
    clinician: str  # actor id


@dataclass(frozen=True, slots=True)
class World:
    target: str  # base URL
    seed: int
    actors: Mapping[str, Actor]
    ownership: OwnershipModel
    appointments: tuple[SeededAppointment, ...]
    # Server-side ids of patients, so an oracle can map `patient_id` fields back to actors.
    server_ids: Mapping[str, int] = field(default_factory=dict)

    @property
    def patients(self) -> tuple[Actor, ...]:
        return tuple(a for a in self.actors.values() if a.role is Role.PATIENT)

    @property
    def clinicians(self) -> tuple[Actor, ...]:
        return tuple(a for a in self.actors.values() if a.role is Role.CLINICIAN)

    def actor_for_server_id(self, server_id: int) -> str | None:
        for name, sid in self.server_ids.items():
            if sid == server_id:
                return name
        return None

    def expected_appointments(self, actor: str) -> int:
        """How many appointments `actor` should see: their own, or their patients'."""
        who = self.actors[actor]
        if who.role is Role.CLINICIAN:
            return sum(1 for a in self.appointments if a.patient in who.assigned)
        return sum(1 for a in self.appointments if a.patient == actor)

    def appointments_of(self, patient: str) -> tuple[SeededAppointment, ...]:
        return tuple(a for a in self.appointments if a.patient == patient)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "seed": self.seed,
            "actors": [
                {
                    "id": a.id,
                    "role": str(a.role),
                    "display_name": a.display_name,
                    "password": a.password,
                    "assigned": sorted(a.assigned),
                }
                for a in self.actors.values()
            ],
            "appointments": [
                {
                    "id": a.id,
                    "consultation_id": a.consultation_id,
                    "patient": a.patient,
                    "clinician": a.clinician,
                }
                for a in self.appointments
            ],
            "server_ids": dict(self.server_ids),
            "ownership": self.ownership.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> World:
        try:
            actors = {
                a["id"]: Actor(
                    id=a["id"],
                    role=Role(a["role"]),
                    display_name=a["display_name"],
                    password=a["password"],
                    assigned=frozenset(a["assigned"]),
                )
                for a in data["actors"]
            }
            appointments = tuple(SeededAppointment(**a) for a in data["appointments"])
            return cls(
                target=str(data["target"]),
                seed=int(data["seed"]),
                actors=actors,
                ownership=OwnershipModel.from_json(data["ownership"]),
                appointments=appointments,
                server_ids={str(k): int(v) for k, v in data["server_ids"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"world file is malformed ({exc!r})", "use the world.json a run wrote"
            ) from exc

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> World:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"cannot read world file {path}: {exc}", "use the world.json a run wrote"
            ) from exc
