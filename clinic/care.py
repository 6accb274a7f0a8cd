"""Care relations that change over time: assign, transfer and discharge.

Each write forgets the cached caseloads it changes (see clinic.caseload) after it commits.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.models import Assignment, User, utcnow
from clinic.state import ClinicState


def assign(session: Session, clinician_id: int, patient_id: int) -> None:
    """Start (or resume, after a discharge) looking after a patient."""
    row = _assignment(session, clinician_id, patient_id)
    if row is None:
        session.add(Assignment(clinician_id=clinician_id, patient_id=patient_id))
    else:
        row.discharged_at = None


def transfer(state: ClinicState, clinician: User, patient_id: int, to_username: str) -> User:
    with state.db.write() as session:
        current = _active(session, clinician.id, patient_id)
        target = session.scalar(
            select(User).where(User.username == to_username, User.role == "clinician")
        )
        if target is None:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "to_clinician"),
                        "msg": "no such clinician",
                        "type": "value_error",
                    }
                ]
            )
        if target.id == clinician.id:
            raise HTTPException(409, "the patient is already in your care")
        session.delete(current)
        session.flush()
        assign(session, target.id, patient_id)
    if state.active("transfer-keeps-old-access"):
        # Written as "the receiving clinician's caseload grew": the giving side is never forgotten.
        state.caseloads.forget(target.id)
    else:
        state.caseloads.forget(target.id, clinician.id)
    state.cache.clear()
    return target


def discharge(state: ClinicState, clinician: User, patient_id: int) -> None:
    with state.db.write() as session:
        _active(session, clinician.id, patient_id).discharged_at = utcnow()
    state.caseloads.forget(clinician.id)
    state.cache.clear()


def _assignment(session: Session, clinician_id: int, patient_id: int) -> Assignment | None:
    return session.scalar(
        select(Assignment).where(
            Assignment.clinician_id == clinician_id, Assignment.patient_id == patient_id
        )
    )


def _active(session: Session, clinician_id: int, patient_id: int) -> Assignment:
    row = _assignment(session, clinician_id, patient_id)
    if row is None or row.discharged_at is not None:
        raise HTTPException(404, "no such patient in your care")
    return row
