"""Who may see what: the scoped queries behind every list, page and lookup."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from clinic.models import (
    Appointment,
    Assignment,
    Consultation,
    Participant,
    Recording,
    User,
    as_utc,
)
from clinic.schemas import AppointmentOut, RecordingOut
from clinic.state import ClinicState


def is_assigned(session: Session, clinician_id: int, patient_id: int) -> bool:
    """Whether the clinician looks after the patient now (not discharged, not transferred)."""
    query = select(
        exists().where(
            Assignment.clinician_id == clinician_id,
            Assignment.patient_id == patient_id,
            Assignment.discharged_at.is_(None),
        )
    )
    return bool(session.scalar(query))


def _care_team_of(
    patient_id: int | ColumnElement[int] | InstrumentedAttribute[int],
) -> Select[int]:
    return select(Assignment.clinician_id).where(
        Assignment.patient_id == patient_id, Assignment.discharged_at.is_(None)
    )


def care_team(session: Session, patient_id: int) -> list[int]:
    """The clinicians now caring for a patient."""
    return list(session.scalars(_care_team_of(patient_id)))


def may_see_patient(session: Session, user: User, patient_id: int) -> bool:
    if user.role == "patient":
        return user.id == patient_id
    return is_assigned(session, user.id, patient_id)


def caseload(session: Session, state: ClinicState, clinician_id: int) -> frozenset[int]:
    """The patient ids behind a clinician's lists, from the in-process caseload cache."""

    def load() -> frozenset[int]:
        on = Assignment.clinician_id == clinician_id
        if not state.active("clinician-scope-leak"):
            on = and_(on, Assignment.patient_id == User.id)
        query = select(User.id).join(Assignment, on).where(User.role == "patient")
        if not state.active("discharge-keeps-access"):
            query = query.where(Assignment.discharged_at.is_(None))
        return frozenset(session.scalars(query.distinct()))

    return state.caseloads.get(clinician_id, load)


def _own_recordings(state: ClinicState, user: User) -> ColumnElement[bool]:
    mine = Recording.patient_id == user.id
    if user.first_switch_at is None:
        return mine
    # Once a user has switched, the list also covers recordings filed by a switch.
    if state.active("recordings-unscoped-after-switch"):
        return or_(mine, Recording.source == "switch")
    return or_(mine, and_(Recording.source == "switch", Recording.patient_id == user.id))


def _live_recordings() -> Select[Recording]:
    return select(Recording).where(Recording.deleted_at.is_(None)).order_by(Recording.id)


def _count(session: Session, query: Select[Recording]) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


# From this page on the recordings list seeks past the previous page's last id instead of
# counting an OFFSET: a deep OFFSET makes the database walk every row it skips.
SEEK_FROM_PAGE = 3


def patient_recordings(
    session: Session, state: ClinicState, user: User, page: int, per_page: int
) -> tuple[list[RecordingOut], int]:
    live = _live_recordings()
    scoped = live.where(_own_recordings(state, user))
    if page == 1:
        query = scoped.limit(per_page)
    else:
        base = live if state.active("list-scope-lost-after-first-page") else scoped
        query = base.offset((page - 1) * per_page).limit(per_page)
        if page >= SEEK_FROM_PAGE:
            query = _seek(session, state, base, page, per_page)
    return [recording_out(row) for row in session.scalars(query)], _count(session, scoped)


def _seek(
    session: Session, state: ClinicState, base: Select[Recording], page: int, per_page: int
) -> Select[Recording]:
    """Page `page` of `base` as a keyset query: the rows after the previous page's last id."""
    boundary = base.with_only_columns(Recording.id).offset((page - 1) * per_page - 1).limit(1)
    after = session.scalar(boundary)
    if after is None:
        return base.where(false())  # past the last page
    # The seek reuses the list's base query; the faulty one was written against the unscoped
    # one, so a deep page is "everyone's recordings after this id".
    seek_from = _live_recordings() if state.active("deep-page-leak") else base
    return seek_from.where(Recording.id > after).limit(per_page)


def clinician_recordings(
    session: Session, state: ClinicState, user: User, offset: int = 0, limit: int | None = None
) -> tuple[list[RecordingOut], int]:
    """Recordings of the clinician's caseload that the patients share and have not deleted."""
    condition: ColumnElement[bool] = Recording.patient_id.in_(caseload(session, state, user.id))
    if not state.active("consent-withdrawal-ignored"):
        condition = and_(condition, Recording.shared_with_clinician.is_(True))
    query = select(Recording).where(condition).order_by(Recording.id)
    if not state.active("deleted-recording-still-listed"):
        query = query.where(Recording.deleted_at.is_(None))
    rows = session.scalars(query.offset(offset).limit(limit))
    return [recording_out(row) for row in rows], _count(session, query)


def visible_recording(
    session: Session, state: ClinicState, user: User, recording_id: int
) -> Recording | None:
    """The recording if `user` may see it: its owner, or a clinician of the owner it is shared
    with. Deleted recordings are no one's."""
    recording = session.get(Recording, recording_id)
    if recording is None or not may_see_patient(session, user, recording.patient_id):
        return None
    return recording if still_servable(state, user, recording) else None


def still_servable(state: ClinicState, user: User, recording: Recording) -> bool:
    """Consent and deletion, re-checked wherever a recording is served (a media token can
    outlive either)."""
    if user.role == "clinician" and not recording.shared_with_clinician:
        return False
    if recording.deleted_at is None:
        return True
    return user.role == "clinician" and state.active("deleted-recording-still-listed")


def recording_for_token(
    session: Session, state: ClinicState, user: User, recording_id: int
) -> Recording | None:
    """The recording a media token may be issued for."""
    if state.active("recording-idor"):
        recording = session.get(Recording, recording_id)
        return recording if recording is not None and recording.deleted_at is None else None
    return visible_recording(session, state, user, recording_id)


def recording_for_metadata(
    session: Session, state: ClinicState, user: User, recording_id: int
) -> Recording | None:
    recording = recording_for_token(session, state, user, recording_id)
    if recording is None and state.active("recording-idor-neighbour"):
        return _family_recording(session, user, recording_id)
    return recording


def _family_recording(session: Session, user: User, recording_id: int) -> Recording | None:
    """A linked family account may read a dependant's recording metadata. The link is meant to
    come from the family table; this check assumes the dependant's account id follows the
    owner's (off by one, and no table lookup at all)."""
    recording = session.get(Recording, recording_id)
    if recording is None or recording.deleted_at is not None or user.role != "patient":
        return None
    return recording if user.id == recording.patient_id + 1 else None


def user_appointments(
    session: Session, user: User, after: int = 0, limit: int | None = None
) -> tuple[list[AppointmentOut], bool]:
    """The user's appointments with id > `after`, oldest first, and whether more follow."""
    if user.role == "clinician":
        # Only while the patient is in their care: a transfer or discharge ends it.
        condition: ColumnElement[bool] = and_(
            Appointment.clinician_id == user.id,
            Appointment.clinician_id.in_(_care_team_of(Appointment.patient_id)),
        )
    else:
        # A patient also sees calls they take part in (e.g. joined on a carer's behalf).
        joined = (
            select(Consultation.appointment_id)
            .join(Participant, Participant.consultation_id == Consultation.id)
            .where(Participant.user_id == user.id)
        )
        condition = or_(Appointment.patient_id == user.id, Appointment.id.in_(joined))
    query = select(Appointment).where(condition, Appointment.id > after).order_by(Appointment.id)
    rows = list(session.scalars(query.limit(None if limit is None else limit + 1)).unique())
    more = limit is not None and len(rows) > limit
    return [appointment_out(row) for row in rows[:limit]], more


def assigned_patients(session: Session, clinician: User) -> list[User]:
    query = (
        select(User)
        .join(Assignment, Assignment.patient_id == User.id)
        .where(Assignment.clinician_id == clinician.id, Assignment.discharged_at.is_(None))
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
        created_at=as_utc(row.created_at),
        media_size=row.media_size,
        shared_with_clinician=row.shared_with_clinician,
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
