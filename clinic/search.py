"""`GET /api/search`: a patient searches their appointments and recordings; a clinician their
patients (by name) and those patients' shared recordings."""

from __future__ import annotations

from sqlalchemy import ColumnElement, ScalarSelect, and_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from clinic.models import Appointment, Assignment, Recording, User
from clinic.schemas import SearchHit
from clinic.state import ClinicState

MAX_HITS = 100
Ids = ScalarSelect[int]
Column = ColumnElement[int] | InstrumentedAttribute[int]


def search(session: Session, state: ClinicState, user: User, q: str) -> list[SearchHit]:
    if user.role == "clinician":
        ids: Ids = (
            select(Assignment.patient_id)
            .where(Assignment.clinician_id == user.id, Assignment.discharged_at.is_(None))
            .scalar_subquery()
        )
        hits = _patients(session, state, ids, q) + _recordings(session, state, ids, q, True)
    else:
        mine = select(User.id).where(User.id == user.id).scalar_subquery()
        hits = _appointments(session, state, mine, q) + _recordings(session, state, mine, q, False)
    return hits[:MAX_HITS]


def _scope(state: ClinicState, column: Column, ids: Ids) -> ColumnElement[bool]:
    return true() if state.active("search-unscoped") else column.in_(ids)


def _appointments(session: Session, state: ClinicState, ids: Ids, q: str) -> list[SearchHit]:
    query = (
        select(Appointment)
        .where(_scope(state, Appointment.patient_id, ids))
        .where(Appointment.reason.icontains(q, autoescape=True))
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


def _recordings(
    session: Session, state: ClinicState, ids: Ids, q: str, shared_only: bool
) -> list[SearchHit]:
    condition = and_(
        _scope(state, Recording.patient_id, ids),
        Recording.deleted_at.is_(None),
        Recording.title.icontains(q, autoescape=True),
    )
    if shared_only:
        condition = and_(condition, Recording.shared_with_clinician.is_(True))
    query = select(Recording).where(condition).order_by(Recording.id).limit(MAX_HITS)
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


def _patients(session: Session, state: ClinicState, ids: Ids, q: str) -> list[SearchHit]:
    query = (
        select(User)
        .where(User.role == "patient", _scope(state, User.id, ids))
        .where(User.display_name.icontains(q, autoescape=True))
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
