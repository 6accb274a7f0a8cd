"""Consultations (join, leave, switch, end) and the clinician's views."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from clinic import calls
from clinic.access import assigned_patients, clinician_recordings
from clinic.auth import CurrentClinician, CurrentUser, State
from clinic.routes.params import ConsultationId
from clinic.schemas import (
    ConsultationOut,
    PatientList,
    PatientOut,
    RecordingList,
    SwitchRequest,
)

router = APIRouter(tags=["consultations"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such consultation you may drive"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"description": "not possible in the call's current state"},
}
CLINICIANS_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "not a clinician"}}


@router.get("/api/consultations/{consultation_id}", responses=NOT_FOUND)
def api_consultation(
    consultation_id: ConsultationId, user: CurrentUser, state: State
) -> ConsultationOut:
    return calls.get_call(state, user, consultation_id)


@router.post("/api/consultations/{consultation_id}/join", responses=CONFLICT)
def api_join(consultation_id: ConsultationId, user: CurrentUser, state: State) -> ConsultationOut:
    return calls.join(state, user, consultation_id)


@router.post("/api/consultations/{consultation_id}/leave", responses=CONFLICT)
def api_leave(consultation_id: ConsultationId, user: CurrentUser, state: State) -> ConsultationOut:
    return calls.leave(state, user, consultation_id)


@router.post(
    "/api/consultations/{consultation_id}/switch",
    responses={**CONFLICT, 403: {"description": "flag video-switch is off"}},
)
def api_switch(
    consultation_id: ConsultationId, body: SwitchRequest, user: CurrentUser, state: State
) -> ConsultationOut:
    return calls.switch(state, user, consultation_id, body.mode)


@router.post("/api/consultations/{consultation_id}/end", responses=CONFLICT)
def api_end(consultation_id: ConsultationId, user: CurrentUser, state: State) -> ConsultationOut:
    return calls.end(state, user, consultation_id)


@router.get("/api/clinician/patients", tags=["clinician"], responses=CLINICIANS_ONLY)
def api_clinician_patients(user: CurrentClinician, state: State) -> PatientList:
    with state.db.read() as session:
        patients = assigned_patients(session, user)
        items = [
            PatientOut(
                id=p.id, username=p.username, display_name=p.display_name, nhs_number=p.nhs_number
            )
            for p in patients
        ]
    return PatientList(items=items)


@router.get("/api/clinician/recordings", tags=["clinician"], responses=CLINICIANS_ONLY)
def api_clinician_recordings(user: CurrentClinician, state: State) -> RecordingList:
    with state.db.read() as session:
        return RecordingList(items=clinician_recordings(session, state, user))
