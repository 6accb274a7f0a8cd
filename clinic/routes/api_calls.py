"""Consultations: read, join, leave (and rejoin), switch mode, end."""

from __future__ import annotations

from fastapi import APIRouter

from clinic import calls
from clinic.auth import CurrentUser, State
from clinic.routes.params import ConsultationId
from clinic.routes.responses import AUTH, BAD_JSON, CALL_CONFLICT, CALL_NOT_FOUND, merge, problem
from clinic.schemas import ConsultationOut, SwitchRequest

router = APIRouter(tags=["consultations"])
NOT_FOUND = merge(AUTH, CALL_NOT_FOUND)
CONFLICT = merge(NOT_FOUND, CALL_CONFLICT)


@router.get("/api/consultations/{consultation_id}", responses=NOT_FOUND)
async def api_consultation(
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
    responses=merge(BAD_JSON, CONFLICT, problem(403, "flag video-switch is off")),
)
def api_switch(
    consultation_id: ConsultationId, body: SwitchRequest, user: CurrentUser, state: State
) -> ConsultationOut:
    return calls.switch(state, user, consultation_id, body.mode)


@router.post("/api/consultations/{consultation_id}/end", responses=CONFLICT)
def api_end(consultation_id: ConsultationId, user: CurrentUser, state: State) -> ConsultationOut:
    return calls.end(state, user, consultation_id)
