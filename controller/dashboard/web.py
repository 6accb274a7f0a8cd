"""Shared plumbing of the dashboard's pages: templates, the session of a request, CSRF checks,
flash messages and the security headers every page carries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from controller.dashboard.session import (
    COOKIE,
    FLASH_COOKIE,
    LIFETIME,
    LOGIN_COOKIE,
    Session,
    Sessions,
    same_token,
)
from controller.decisions import Controller
from controller.readmodel import ReadModel
from harness.errors import GateRefused, UsageError

HERE = Path(__file__).parent
PREFIX = "/dashboard"
# No inline script or style anywhere: the page's own files only, and nothing may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make form posts send Origin: null
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
ROLE_CAN = {
    "viewer": "see everything and change nothing",
    "release-manager": "enable, change stages, disable and revoke",
    "admin": "enable, change stages, disable, revoke, and propose or approve pins",
}


class Web:
    def __init__(self, controller: Controller, model: ReadModel) -> None:
        self.controller = controller
        self.model = model
        self.sessions = Sessions(controller.engine, controller.audit_key)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["ago"] = ago
        self.templates.filters["short"] = short
        self.templates.filters["when"] = when
        self.templates.filters["brief"] = brief

    def session(self, request: Request) -> Session | None:
        return self.sessions.read(request.cookies.get(COOKIE))

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        flash = self.sessions.unsign(request.cookies.get(FLASH_COOKIE))
        who = session.who if session else None
        body = self.templates.get_template(template).render(
            who=who,
            csrf=session.csrf if session else "",
            can_release=who is not None and who.role in ("release-manager", "admin"),
            can_admin=who is not None and who.role == "admin",
            role_can=ROLE_CAN.get(who.role, "") if who else "",
            flash=str(flash.get("m", "")) if flash else "",
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        if flash:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX, secure=True, httponly=True)
        response.headers.update(SECURITY_HEADERS)
        return response

    def redirect(self, url: str, message: str = "") -> Response:
        response = RedirectResponse(url, status_code=303)
        if message:
            response.set_cookie(
                FLASH_COOKIE,
                self.sessions.sign({"m": message[:500]}),
                max_age=60,
                path=PREFIX,
                secure=True,
                httponly=True,
                samesite="strict",
            )
        return secure(response)

    def check_form(self, request: Request, session: Session, csrf: str) -> None:
        """A state-changing form must carry the session's CSRF token and, when the browser says
        where it comes from, come from this origin."""
        origin = request.headers.get("origin")
        if origin is not None and origin != _origin(request):
            raise HTTPException(403, "cross-origin form refused")
        if not same_token(csrf, session.csrf):
            raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page")

    def act(
        self,
        request: Request,
        csrf: str,
        reason: str,
        act: Callable[[Session], str],
        refuse: Callable[..., Response],
        done: str,
    ) -> Response:
        """One dashboard action: a signed-in session, its CSRF token and a reason, then `act`
        (a Controller call returning the flash message). A refusal re-renders the page through
        `refuse(session, status, error=..., hint=...)` with the status that matches it."""
        session = self.session(request)
        if session is None:
            raise HTTPException(401, "sign in first")
        self.check_form(request, session, csrf)
        if len(reason.strip()) < 3:
            return refuse(session, 400, error="Every action needs a reason.", hint="")
        try:
            message = act(session)
        except PermissionError as exc:
            return refuse(session, 403, error=str(exc), hint="")
        except GateRefused as exc:
            return refuse(session, 409, error=exc.problem, hint=exc.fix)
        except UsageError as exc:
            return refuse(session, 400, error=exc.problem, hint=exc.fix)
        return self.redirect(done, message)


def set_session(response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=LIFETIME,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def set_login_nonce(response: Response, nonce: str) -> None:
    """Login CSRF: the form must echo a value only this browser's cookie holds."""
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=1800,
        path=PREFIX,
        secure=True,
        httponly=True,
        samesite="strict",
    )


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def ago(seconds: Any) -> str:
    """120 -> '2 min'; negative numbers are the same span (callers say 'ago' or 'in')."""
    if not isinstance(seconds, int | float):
        return "unknown"
    value = abs(int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if value >= size:
            return f"{value // size} {unit}"
    return f"{value} s"


def short(digest: Any, size: int = 12) -> str:
    return str(digest)[:size] if digest else ""


def when(text: Any) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM:SS UTC' (what people read in a timeline)."""
    if not isinstance(text, str) or not text:
        return ""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def brief(detail: Any, limit: int = 240) -> str:
    """An audit row's detail as one line: 'key=value' for each field, nested ones summarised."""
    if not isinstance(detail, dict):
        return str(detail)[:limit]
    parts: list[str] = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if key == "verdict" and isinstance(value, dict):
            value = value.get("result", "?")
        elif isinstance(value, dict):
            value = "{" + ", ".join(f"{k}: {v}" for k, v in value.items() if v)[:80] + "}"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        text = str(value)
        if key in ("digest", "policy_digest") and len(text) == 64:
            text = text[:12]
        parts.append(f"{key}={text}")
    line = " · ".join(parts)
    return line if len(line) <= limit else line[: limit - 1] + "…"
