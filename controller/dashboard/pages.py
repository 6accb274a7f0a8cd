"""The dashboard's pages: sign-in, the grid of flags by environment (and the fragment the page
polls to stay live), one flag, the incidents (and their CSV), and the audit timeline."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from controller.dashboard.session import COOKIE, LOGIN_COOKIE, same_token
from controller.dashboard.web import PREFIX, Web, secure, set_login_nonce, set_session


def page_router(web: Web) -> APIRouter:
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def root() -> Response:
        return web.redirect(f"{PREFIX}/")

    @router.get(f"{PREFIX}/login")
    def login_form(request: Request) -> Response:
        if web.session(request) is not None:
            return web.redirect(f"{PREFIX}/")
        return _login_page(web, request)

    @router.post(f"{PREFIX}/login")
    def login(
        request: Request,
        token: Annotated[str, Form(max_length=500)] = "",
        nonce: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        if not same_token(nonce, request.cookies.get(LOGIN_COOKIE, "")):
            return _login_page(web, request, "The sign-in form expired; try again.", 403)
        made = web.sessions.login(token)
        if made is None:
            return _login_page(web, request, "That token is not valid (or was revoked).", 401)
        if made[0].who.role == "ci":
            return _login_page(web, request, "A CI token only submits verdicts.", 403)
        response = web.redirect(f"{PREFIX}/", f"Signed in as {made[0].who.name}.")
        set_session(response, made[1])
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX, secure=True, httponly=True)
        return response

    @router.post(f"{PREFIX}/logout")
    def logout(request: Request, csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
        session = web.session(request)
        if session is not None:
            web.check_form(request, session, csrf)
        response = web.redirect(f"{PREFIX}/login", "Signed out.")
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    @router.get(f"{PREFIX}/")
    def grid(request: Request) -> Response:
        session = web.session(request)
        if session is None:
            return web.redirect(f"{PREFIX}/login")
        return web.render(
            request, "grid.html", session, title="Flags", page="grid", grid=web.model.grid()
        )

    @router.get(f"{PREFIX}/grid")
    def grid_fragment(request: Request) -> Response:
        session = web.session(request)
        if session is None:
            return secure(HTMLResponse("sign in again", status_code=401))
        return web.render(request, "grid_table.html", session, grid=web.model.grid())

    @router.get(f"{PREFIX}/flags/{{flag}}")
    def flag_page(request: Request, flag: str) -> Response:
        session = web.session(request)
        if session is None:
            return web.redirect(f"{PREFIX}/login")
        return show_flag(web, request, session, flag)

    @router.get(f"{PREFIX}/incidents")
    def incidents(request: Request) -> Response:
        session = web.session(request)
        if session is None:
            return web.redirect(f"{PREFIX}/login")
        return web.render(
            request,
            "incidents.html",
            session,
            title="Incidents",
            page="incidents",
            incidents=web.model.incidents(),
        )

    @router.get(f"{PREFIX}/incidents.csv")
    def incidents_csv(request: Request, id: int | None = None) -> Response:
        session = web.session(request)
        if session is None:
            return secure(Response("sign in first", status_code=401))
        chosen = [i for i in web.model.incidents() if id is None or i["id"] == id]
        name = f"incident-{id}.csv" if id is not None else "incidents.csv"
        return secure(
            Response(
                exposures_csv(chosen),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        )

    @router.get(f"{PREFIX}/audit")
    def audit_page(request: Request) -> Response:
        session = web.session(request)
        if session is None:
            return web.redirect(f"{PREFIX}/login")
        rows = web.model.audit_rows()
        return web.render(
            request,
            "audit.html",
            session,
            title="Audit log",
            page="audit",
            rows=[row.to_json() for row in reversed(rows)],
            intact=all(row.verified for row in rows),
        )

    return router


def show_flag(
    web: Web, request: Request, session: Any, flag: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    return web.render(
        request,
        "flag.html",
        session,
        status=status,
        title=flag,
        page="flag",
        f=web.model.flag(flag),
        **extra,
    )


COLUMNS = (
    "incident",
    "flag",
    "env",
    "owner (whose data)",
    "observer (reached whom)",
    "what",
    "where",
    "first seen",
    "last seen",
    "findings",
)


def exposures_csv(incidents: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for incident in incidents:
        for e in incident["exposures"]:
            writer.writerow(
                _cell(value)
                for value in (
                    incident["id"],
                    incident["flag"],
                    incident["env"],
                    e["owner"],
                    e["observer"],
                    "; ".join(e["what"]),
                    "; ".join(e["surfaces"]),
                    e["first_seen"],
                    e["last_seen"],
                    e["findings"],
                )
            )
    return out.getvalue()


def _cell(value: Any) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: quote it.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _login_page(web: Web, request: Request, error: str = "", status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = web.render(
        request, "login.html", None, status=status, title="Sign in", nonce=nonce, error=error
    )
    set_login_nonce(response, nonce)
    return response
