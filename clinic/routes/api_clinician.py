"""The clinician's views and the care relations they change: transfer and discharge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clinic import care
from clinic.access import assigned_patients, clinician_recordings
from clinic.auth import CurrentClinician, State
from clinic.routes.params import PatientId
from clinic.routes.responses import (
    AUTH,
    BAD_JSON,
    CLINICIANS_ONLY,
    PATIENT_NOT_FOUND,
    merge,
    problem,
)
from clinic.schemas import Ok, PatientList, PatientOut, RecordingSlice, TransferRequest

router = APIRouter(tags=["clinician"])
CLINICIANS = merge(AUTH, CLINICIANS_ONLY)


@router.get("/api/clinician/patients", responses=CLINICIANS)
async def api_clinician_patients(user: CurrentClinician, state: State) -> PatientList:
    with state.db.read() as session:
        patients = assigned_patients(session, user)
        items = [
            PatientOut(
                id=p.id, username=p.username, display_name=p.display_name, nhs_number=p.nhs_number
            )
            for p in patients
        ]
    return PatientList(items=items)


@router.get("/api/clinician/recordings", responses=CLINICIANS)
async def api_clinician_recordings(
    user: CurrentClinician,
    state: State,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> RecordingSlice:
    with state.db.read() as session:
        items, total = clinician_recordings(session, state, user, offset, limit)
    return RecordingSlice(items=items, offset=offset, limit=limit, total=total)


@router.post(
    "/api/clinician/patients/{patient_id}/transfer",
    responses=merge(
        BAD_JSON, CLINICIANS, PATIENT_NOT_FOUND, problem(409, "already that clinician's patient")
    ),
)
def api_transfer(
    patient_id: PatientId, body: TransferRequest, user: CurrentClinician, state: State
) -> Ok:
    care.transfer(state, user, patient_id, body.to_clinician)
    return Ok()


@router.post(
    "/api/clinician/patients/{patient_id}/discharge",
    responses=merge(CLINICIANS, PATIENT_NOT_FOUND),
)
def api_discharge(patient_id: PatientId, user: CurrentClinician, state: State) -> Ok:
    care.discharge(state, user, patient_id)
    return Ok()
