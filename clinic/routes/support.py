"""The staging support API: reset, seed and count. Invisible (404) without the right token."""

from __future__ import annotations

import hmac
import shutil
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from clinic.auth import State, hash_password
from clinic.models import (
    ALL_TABLES_CHILD_FIRST,
    Appointment,
    Assignment,
    Consultation,
    Recording,
    User,
)
from clinic.schemas import Ok, SeededAppointment, SeedRequest, SeedResponse, SupportState
from clinic.state import ClinicState, clinic_state


def require_support_token(
    request: Request, state: Annotated[ClinicState, Depends(clinic_state)]
) -> None:
    expected = state.settings.support_token
    given = request.headers.get("x-support-token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(404, "Not Found")


router = APIRouter(
    prefix="/_support", include_in_schema=False, dependencies=[Depends(require_support_token)]
)


@router.post("/reset")
def reset(state: State) -> Ok:
    with state.db.write() as session:
        for table in ALL_TABLES_CHILD_FIRST:
            session.execute(delete(table))
    shutil.rmtree(state.settings.media_dir, ignore_errors=True)
    state.cache.clear()
    state.calls.reset()
    return Ok()


@router.post("/seed")
def seed(body: SeedRequest, state: State) -> SeedResponse:
    with state.db.write() as session:
        _refuse_existing(session, body)
        patients = {
            p.username: _add_patient(
                session, p.username, p.password, p.display_name, p.nhs_number, p.notes
            )
            for p in body.patients
        }
        clinicians = {
            c.username: _add_user(session, c.username, c.password, "clinician", c.display_name)
            for c in body.clinicians
        }
        session.flush()
        _assign(session, body, clinicians)
        appointments = [
            _add_appointment(session, a.patient, a.clinician, a.reason, a.starts_at)
            for a in body.appointments
        ]
        return SeedResponse(
            patients={name: user.id for name, user in patients.items()},
            clinicians={name: user.id for name, user in clinicians.items()},
            appointments=appointments,
        )


@router.get("/state")
def support_state(state: State) -> SupportState:
    with state.db.read() as session:
        rows = session.execute(select(User.role, func.count()).group_by(User.role))
        users = {role: count for role, count in rows}
        return SupportState(
            patients=users.get("patient", 0),
            clinicians=users.get("clinician", 0),
            appointments=session.scalar(select(func.count()).select_from(Appointment)) or 0,
            recordings=session.scalar(select(func.count()).select_from(Recording)) or 0,
        )


def _refuse_existing(session: Session, body: SeedRequest) -> None:
    names = [p.username for p in body.patients] + [c.username for c in body.clinicians]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    taken = sorted(session.scalars(select(User.username).where(User.username.in_(names))))
    if duplicated or taken:
        raise HTTPException(409, f"usernames already exist: {', '.join(taken + duplicated)}")


def _add_user(session: Session, username: str, password: str, role: str, name: str) -> User:
    user = User(
        username=username, password_hash=hash_password(password), role=role, display_name=name
    )
    session.add(user)
    return user


def _add_patient(
    session: Session, username: str, password: str, name: str, nhs: str, notes: str
) -> User:
    user = _add_user(session, username, password, "patient", name)
    user.nhs_number, user.notes = nhs, notes
    return user


def _user(session: Session, username: str, role: str) -> User:
    user = session.scalar(select(User).where(User.username == username, User.role == role))
    if user is None:
        raise HTTPException(422, f"unknown {role} {username!r}: seed them first")
    return user


def _assign(session: Session, body: SeedRequest, clinicians: dict[str, User]) -> None:
    for spec in body.clinicians:
        for name in dict.fromkeys(spec.patients):
            patient = _user(session, name, "patient")
            session.add(
                Assignment(clinician_id=clinicians[spec.username].id, patient_id=patient.id)
            )


def _add_appointment(
    session: Session, patient_name: str, clinician_name: str, reason: str, starts_at: str
) -> SeededAppointment:
    patient = _user(session, patient_name, "patient")
    clinician = _user(session, clinician_name, "clinician")
    appointment = Appointment(
        patient_id=patient.id, clinician_id=clinician.id, reason=reason, starts_at=starts_at
    )
    session.add(appointment)
    session.flush()
    call = Consultation(
        appointment_id=appointment.id, patient_id=patient.id, clinician_id=clinician.id
    )
    session.add(call)
    session.flush()
    return SeededAppointment(
        id=appointment.id, consultation_id=call.id, patient=patient_name, clinician=clinician_name
    )


# -- one entity at a time (what a target profile's create steps call) -------------------------


@router.post("/users")
def add_user(body: dict[str, str], state: State) -> dict[str, object]:
    role = body.get("role", "")
    if role not in ("patient", "clinician"):
        raise HTTPException(422, "role must be patient or clinician")
    with state.db.write() as session:
        if session.scalar(select(User).where(User.username == body.get("username", ""))):
            raise HTTPException(409, f"username {body.get('username')!r} already exists")
        user = _add_user(
            session, body["username"], body["password"], role, body.get("display_name", "")
        )
        if role == "patient":
            user.nhs_number, user.notes = body.get("nhs_number", ""), body.get("notes", "")
        session.flush()
        return {"id": user.id, "username": user.username}


@router.post("/assignments")
def add_assignment(body: dict[str, str], state: State) -> Ok:
    with state.db.write() as session:
        clinician = _user(session, body["clinician"], "clinician")
        patient = _user(session, body["patient"], "patient")
        session.add(Assignment(clinician_id=clinician.id, patient_id=patient.id))
    return Ok()


@router.post("/appointments")
def add_one_appointment(body: dict[str, str], state: State) -> SeededAppointment:
    with state.db.write() as session:
        return _add_appointment(
            session, body["patient"], body["clinician"], body["reason"], body["starts_at"]
        )
