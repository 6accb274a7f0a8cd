"""Who may see what: the scoped queries behind every list, page and lookup."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from clinic.models import Appointment, Assignment, Consultation, Participant, Recording, User
from clinic.schemas import AppointmentOut, RecordingOut
from clinic.state import ClinicState


def is_assigned(session: Session, clinician_id: int, patient_id: int) -> bool:
    query = select(
        exists().where(Assignment.clinician_id == clinician_id, Assignment.patient_id == patient_id)
    )
    return bool(session.scalar(query))


def may_see_patient(session: Session, user: User, patient_id: int) -> bool:
    if user.role == "patient":
        return user.id == patient_id
    return is_assigned(session, user.id, patient_id)


def _own_recordings(state: ClinicState, user: User) -> ColumnElement[bool]:
    mine = Recording.patient_id == user.id
    if user.first_switch_at is None:
        return mine
    # Once a user has switched, the list also covers recordings filed by a switch.
    if state.active("recordings-unscoped-after-switch"):
        return or_(mine, Recording.source == "switch")
    return or_(mine, and_(Recording.source == "switch", Recording.patient_id == user.id))


def patient_recordings(
    session: Session, state: ClinicState, user: User, page: int, per_page: int
) -> tuple[list[RecordingOut], int]:
    condition = _own_recordings(state, user)
    total = session.scalar(select(func.count()).select_from(Recording).where(condition)) or 0
    rows = session.scalars(
        select(Recording)
        .where(condition)
        .order_by(Recording.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [recording_out(row) for row in rows], total


def clinician_recordings(session: Session, state: ClinicState, user: User) -> list[RecordingOut]:
    on = Assignment.clinician_id == user.id
    if not state.active("clinician-scope-leak"):
        on = and_(on, Assignment.patient_id == Recording.patient_id)
    rows = session.scalars(
        select(Recording).join(Assignment, on).distinct().order_by(Recording.id)
    ).unique()
    return [recording_out(row) for row in rows]


def visible_recording(session: Session, user: User, recording_id: int) -> Recording | None:
    recording = session.get(Recording, recording_id)
    if recording is None or not may_see_patient(session, user, recording.patient_id):
        return None
    return recording


def recording_for_metadata(
    session: Session, state: ClinicState, user: User, recording_id: int
) -> Recording | None:
    if state.active("recording-idor"):
        return session.get(Recording, recording_id)
    return visible_recording(session, user, recording_id)


def user_appointments(session: Session, user: User) -> list[AppointmentOut]:
    if user.role == "clinician":
        condition: ColumnElement[bool] = Appointment.clinician_id == user.id
    else:
        # A patient also sees calls they take part in (e.g. joined on a carer's behalf).
        joined = (
            select(Consultation.appointment_id)
            .join(Participant, Participant.consultation_id == Consultation.id)
            .where(Participant.user_id == user.id)
        )
        condition = or_(Appointment.patient_id == user.id, Appointment.id.in_(joined))
    rows = session.scalars(select(Appointment).where(condition).order_by(Appointment.id)).unique()
    return [appointment_out(row) for row in rows]


def assigned_patients(session: Session, clinician: User) -> list[User]:
    query = (
        select(User)
        .join(Assignment, Assignment.patient_id == User.id)
        .where(Assignment.clinician_id == clinician.id)
        .order_by(User.id)
    )
    return list(session.scalars(query))


def recording_out(row: Recording) -> RecordingOut:
    return RecordingOut(
        id=row.id,
        consultation_id=row.consultation_id,
        appointment_id=row.appointment_id,
        patient_id=row.patient_id,
        patient_name=row.patient.display_name,
        mode=row.mode,
        source=row.source,
        title=row.title,
        created_at=row.created_at,
        media_size=row.media_size,
    )


def appointment_out(row: Appointment) -> AppointmentOut:
    return AppointmentOut(
        id=row.id,
        patient_id=row.patient_id,
        patient_name=row.patient.display_name,
        clinician_id=row.clinician_id,
        clinician_name=row.clinician.display_name,
        reason=row.reason,
        starts_at=row.starts_at,
        consultation_id=row.consultation.id,
    )
