"""`GET /api/search`: a patient searches their appointments and recordings; a clinician their
patients (by name) and those patients' shared recordings."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.orm import Session

from clinic.models import Appointment, Assignment, Recording, User
from clinic.schemas import SearchHit
from clinic.state import ClinicState

MAX_HITS = 100


def search(session: Session, state: ClinicState, user: User, q: str) -> list[SearchHit]:
    if user.role == "clinician":
        team = (
            select(Assignment.patient_id)
            .where(Assignment.clinician_id == user.id, Assignment.discharged_at.is_(None))
            .scalar_subquery()
        )
        patients = _patients(session, _scope(state, User.id.in_(team)), q)
        shared = and_(
            _scope(state, Recording.patient_id.in_(team)),
            Recording.shared_with_clinician.is_(True),
        )
        hits = patients + _recordings(session, shared, q)
    else:
        appointments = _appointments(session, _scope(state, Appointment.patient_id == user.id), q)
        hits = appointments + _recordings(
            session, _scope(state, Recording.patient_id == user.id), q
        )
    return hits[:MAX_HITS]


def _scope(state: ClinicState, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return true() if state.active("search-unscoped") else condition


def _appointments(session: Session, scope: ColumnElement[bool], q: str) -> list[SearchHit]:
    query = (
        select(Appointment)
        .where(scope, Appointment.reason.icontains(q, autoescape=True))
        .order_by(Appointment.id)
        .limit(MAX_HITS)
    )
    return [
        SearchHit(
            kind="appointment",
            id=row.id,
            patient_id=row.patient_id,
            patient_name=row.patient.display_name,
            text=row.reason,
        )
        for row in session.scalars(query).unique()
    ]


def _recordings(session: Session, scope: ColumnElement[bool], q: str) -> list[SearchHit]:
    query = (
        select(Recording)
        .where(scope, Recording.deleted_at.is_(None))
        .where(Recording.title.icontains(q, autoescape=True))
        .order_by(Recording.id)
        .limit(MAX_HITS)
    )
    return [
        SearchHit(
            kind="recording",
            id=row.id,
            patient_id=row.patient_id,
            patient_name=row.patient.display_name,
            text=row.title,
        )
        for row in session.scalars(query).unique()
    ]


def _patients(session: Session, scope: ColumnElement[bool], q: str) -> list[SearchHit]:
    query = (
        select(User)
        .where(User.role == "patient", scope, User.display_name.icontains(q, autoescape=True))
        .order_by(User.id)
        .limit(MAX_HITS)
    )
    return [
        SearchHit(
            kind="patient",
            id=row.id,
            patient_id=row.id,
            patient_name=row.display_name,
            text=row.display_name,
        )
        for row in session.scalars(query)
    ]
