"""Login, logout, the caller's profile, appointments, flags and health."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from clinic.access import user_appointments
from clinic.auth import COOKIE, CurrentUser, State, login, logout, request_token
from clinic.flags import VIDEO_SWITCH
from clinic.models import User
from clinic.schemas import AppointmentList, Health, LoginRequest, LoginResponse, MeOut, Ok, UserOut

router = APIRouter(tags=["account"])


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role,
        display_name=user.display_name,
    )


@router.post("/api/login", responses={401: {"description": "bad credentials"}})
def api_login(body: LoginRequest, response: Response, state: State) -> LoginResponse:
    found = login(state, body.username, body.password)
    if found is None:
        raise HTTPException(401, "bad username or password")
    token, user = found
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax")
    return LoginResponse(token=token, user=user_out(user))


@router.post("/api/logout", responses={401: {"description": "not logged in"}})
def api_logout(request: Request, response: Response, user: CurrentUser, state: State) -> Ok:
    token = request_token(request)
    if token:
        logout(state, token)
    response.delete_cookie(COOKIE)
    return Ok()


@router.get("/api/me", responses={401: {"description": "not logged in"}})
def api_me(user: CurrentUser) -> MeOut:
    return MeOut(
        **user_out(user).model_dump(),
        nhs_number=user.nhs_number if user.role == "patient" else None,
        notes=user.notes if user.role == "patient" else None,
    )


@router.get("/api/me/appointments", responses={401: {"description": "not logged in"}})
def api_my_appointments(user: CurrentUser, state: State) -> AppointmentList:
    with state.db.read() as session:
        return AppointmentList(items=user_appointments(session, user))


@router.get("/api/flags", responses={401: {"description": "not logged in"}})
def api_flags(user: CurrentUser, state: State) -> dict[str, bool]:
    return {VIDEO_SWITCH: state.flags.is_enabled(VIDEO_SWITCH, user.username)}


@router.get("/healthz")
def healthz(state: State) -> Health:
    return Health(status="ok", faults=sorted(state.settings.faults))
