"""The staging support API: reset, seed (in bulk or one entity at a time), count, and wait for
outbound notifications. Invisible (404) without the right token, and every other path under
`/_support` is a 404 too (never a redirect or a 405, which would show the API exists)."""

from __future__ import annotations

import hmac
import shutil
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from clinic import care
from clinic.auth import State, hash_password
from clinic.media import SegmentIdentity, render_media, store_media
from clinic.models import (
    ALL_TABLES_CHILD_FIRST,
    Appointment,
    Consultation,
    Recording,
    User,
    utcnow,
)
from clinic.schemas import (
    BulkRecording,
    CreatedAppointment,
    CreatedMany,
    CreatedRecording,
    CreatedUser,
    Flushed,
    NewAssignment,
    NewUser,
    Ok,
    SeedAppointment,
    SeedAppointments,
    SeededAppointment,
    SeedPatient,
    SeedRecording,
    SeedRecordings,
    SeedRequest,
    SeedResponse,
    SupportState,
)
from clinic.state import ClinicState, clinic_state


async def require_support_token(
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
    state.tokens.clear()
    state.caseloads.clear()
    state.calls.reset()
    if state.rtc is not None:
        state.rtc.reset()
    state.outbox.reset()
    return Ok()


@router.post("/seed")
def seed(body: SeedRequest, state: State) -> SeedResponse:
    with state.db.write() as session:
        _refuse_existing(session, body)
        patients = {
            p.username: _add_patient(session, p.username, p.password, p.display_name, p)
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


@router.post("/users")
def add_user(body: NewUser, state: State) -> CreatedUser:
    with state.db.write() as session:
        if session.scalar(select(User.id).where(User.username == body.username)) is not None:
            raise HTTPException(409, f"username already exists: {body.username}")
        if body.role == "patient":
            user = _add_patient(session, body.username, body.password, body.display_name, body)
        else:
            user = _add_user(session, body.username, body.password, "clinician", body.display_name)
        session.flush()
        return CreatedUser(id=user.id, username=user.username)


@router.post("/assignments")
def add_assignment(body: NewAssignment, state: State) -> Ok:
    with state.db.write() as session:
        clinician = _user(session, body.clinician, "clinician")
        care.assign(session, clinician.id, _user(session, body.patient, "patient").id)
    state.caseloads.forget(clinician.id)
    state.cache.clear()
    return Ok()


@router.post("/appointments")
def add_appointment(body: SeedAppointment, state: State) -> CreatedAppointment:
    with state.db.write() as session:
        made = _add_appointment(session, body.patient, body.clinician, body.reason, body.starts_at)
    return CreatedAppointment(id=made.id, consultation_id=made.consultation_id)


@router.post("/appointments/bulk")
def add_appointments(body: SeedAppointments, state: State) -> CreatedMany:
    """Many appointments of one patient at once: a heavy owner's hundred in one transaction."""
    with state.db.write() as session:
        made = [
            _add_appointment(session, body.patient, body.clinician, a.reason, a.starts_at)
            for a in body.items
        ]
    return CreatedMany(ids=[m.id for m in made], consultation_ids=[m.consultation_id for m in made])


@router.post("/recordings")
def add_recording(body: SeedRecording, state: State) -> CreatedRecording:
    """An archived recording of the patient's first appointment, with its media on disk."""
    item = BulkRecording(title=body.title, mode=body.mode)
    many = SeedRecordings(patient=body.patient, items=[item])
    return CreatedRecording(id=add_recordings(many, state).ids[0])


@router.post("/recordings/bulk")
def add_recordings(body: SeedRecordings, state: State) -> CreatedMany:
    """Archived recordings of the patient's first appointment, with their media on disk: what
    makes a patient's recordings list and export long without playing hundreds of calls."""
    with state.db.write() as session:
        patient = _user(session, body.patient, "patient")
        appointment = session.scalar(
            select(Appointment).where(Appointment.patient_id == patient.id).order_by(Appointment.id)
        )
        if appointment is None:
            raise HTTPException(422, f"patient {body.patient!r} has no appointment to file under")
        call, nhs = appointment.consultation, patient.nhs_number or ""
        recordings = []
        for item in body.items:
            identity = SegmentIdentity(
                call.id, 0, item.mode, patient.display_name, nhs, appointment.reason
            )
            data = render_media(identity)
            recording = Recording(
                consultation_id=call.id,
                appointment_id=appointment.id,
                patient_id=patient.id,
                mode=item.mode,
                source="call",
                title=item.title,
                created_at=utcnow(),
                media_path=str(store_media(state.settings.media_dir, data)),
                media_size=len(data),
            )
            session.add(recording)
            recordings.append(recording)
        session.flush()
        created = CreatedMany(ids=[r.id for r in recordings])
    state.cache.clear()
    return created


@router.post("/notifications/flush")
def flush_notifications(state: State) -> Flushed:
    """Blocks until every queued e-mail and SMS has been tried (at most 30 s)."""
    drained = state.outbox.flush(timeout=30.0)
    return Flushed(ok=drained, sent=state.outbox.sent, failed=state.outbox.failed)


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
    session: Session, username: str, password: str, name: str, data: SeedPatient | NewUser
) -> User:
    user = _add_user(session, username, password, "patient", name)
    user.nhs_number, user.notes = data.nhs_number, data.notes or ""
    user.email, user.phone = data.email, data.phone
    return user


def _user(session: Session, username: str, role: str) -> User:
    user = session.scalar(select(User).where(User.username == username, User.role == role))
    if user is None:
        raise HTTPException(422, f"unknown {role} {username!r}: seed them first")
    return user


def _assign(session: Session, body: SeedRequest, clinicians: dict[str, User]) -> None:
    for spec in body.clinicians:
        for name in dict.fromkeys(spec.patients):
            care.assign(session, clinicians[spec.username].id, _user(session, name, "patient").id)


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


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("", methods=ANY_METHOD)
@router.api_route("/{unknown:path}", methods=ANY_METHOD)
def unknown_support_path() -> None:
    """Any other path or method (including a trailing slash): the same 404 as a wrong token."""
    raise HTTPException(404, "Not Found")
