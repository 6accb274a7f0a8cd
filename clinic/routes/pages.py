"""Server-rendered pages (cookie auth): login, profile, the call page, the clinician page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from clinic import calls
from clinic.access import (
    assigned_patients,
    clinician_recordings,
    patient_recordings,
    user_appointments,
)
from clinic.auth import COOKIE, REMEMBER, State, login, logout, user_for_token
from clinic.flags import VIDEO_SWITCH
from clinic.models import User
from clinic.routes.api_recordings import cache_key
from clinic.routes.params import ConsultationId
from clinic.state import ClinicState

templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
PROFILE_PAGE_SIZE = 10


def _page_user(request: Request, state: ClinicState) -> User | None:
    return user_for_token(state, request.cookies.get(COOKIE))


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/")
async def index() -> RedirectResponse:
    return RedirectResponse("/profile", status_code=303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": None})


@router.post("/login")
def login_submit(
    request: Request,
    state: State,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    found = login(state, username, password) if "\x00" not in username + password else None
    if found is None:
        context: dict[str, Any] = {"error": "Unknown username or password."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse("/profile", status_code=303)
    response.set_cookie(COOKIE, found[0], httponly=True, samesite="lax")
    response.set_cookie(REMEMBER, str(found[1].id), samesite="lax")
    return response


@router.get("/logout")
def logout_page(request: Request, state: State) -> RedirectResponse:
    token = request.cookies.get(COOKIE)
    if token:
        logout(state, token)
    response = _to_login()
    response.delete_cookie(COOKIE)
    return response


@router.get("/profile")
async def profile(
    request: Request, state: State, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1
) -> Response:
    user = _page_user(request, state)
    if user is None:
        return _to_login()
    return templates.TemplateResponse(
        request, "profile.html", {"user": user, **_profile_lists(state, request, user, page)}
    )


def _profile_lists(state: ClinicState, request: Request, user: User, page: int) -> dict[str, Any]:

    def load() -> dict[str, Any]:
        with state.db.read() as session:
            recordings, total = patient_recordings(session, state, user, page, PROFILE_PAGE_SIZE)
            # The appointments head the first page only; later pages go on through the
            # recordings (a patient with a long history rendered them all on every page).
            appointments = user_appointments(session, user)[0] if page == 1 else []
        more = page * PROFILE_PAGE_SIZE < total
        return {
            "appointments": appointments,
            "recordings": recordings,
            "page": page,
            "next_page": f"/profile?page={page + 1}" if more else None,
            "previous_page": f"/profile?page={page - 1}" if page > 1 else None,
        }

    return state.cache.remember(cache_key(state, request, user), load)


@router.get("/profile/{patient_id}/summary")
async def printable_summary(
    patient_id: Annotated[int, PathParam(ge=1, le=2**31)], request: Request, state: State
) -> Response:
    """The printable summary the profile page links to (not in the OpenAPI document, as no
    page route is). It names the patient in its URL, so it must check that it is the user's."""
    user = _page_user(request, state)
    if user is None:
        return _to_login()
    with state.db.read() as session:
        patient = session.get(User, patient_id)
        appointments = user_appointments(session, patient)[0] if patient is not None else []
    mine = patient is not None and patient.id == user.id and patient.role == "patient"
    if patient is None or not (mine or state.active("undocumented-route-leak")):
        context: dict[str, Any] = {"message": "No such summary."}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=404)
    page: dict[str, Any] = {"user": user, "patient": patient, "appointments": appointments}
    return templates.TemplateResponse(request, "summary.html", page)


@router.get("/consultations/{consultation_id}")
async def consultation_page(
    consultation_id: ConsultationId, request: Request, state: State
) -> Response:
    user = _page_user(request, state)
    if user is None:
        return _to_login()
    try:
        call = calls.get_call(state, user, consultation_id)
    except HTTPException:
        context: dict[str, Any] = {"message": "No such consultation."}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=404)
    flag_on = state.flags.is_enabled(VIDEO_SWITCH, user.username)
    page: dict[str, Any] = {
        "user": user,
        "call": call,
        "switch_enabled": flag_on,
        "real_media": state.rtc is not None,
    }
    return templates.TemplateResponse(request, "consultation.html", page)


@router.get("/clinician")
async def clinician_page(request: Request, state: State) -> Response:
    user = _page_user(request, state)
    if user is None:
        return _to_login()
    if user.role != "clinician":
        context: dict[str, Any] = {"message": "This page is for clinicians."}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=403)
    with state.db.read() as session:
        patients = assigned_patients(session, user)
        recordings, _total = clinician_recordings(session, state, user)
    page: dict[str, Any] = {"user": user, "patients": patients, "recordings": recordings}
    return templates.TemplateResponse(request, "clinician.html", page)
