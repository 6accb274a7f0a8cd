"""The admins' token page: list the controller's tokens and revoke one, through the same
functions the API's /v1/tokens calls (controller.token_admin: the admin check, the audit row).
Creating tokens stays on the controller host, as there."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from controller.dashboard.web import PREFIX, Web
from controller.token_admin import list_tokens, revoke_token


def token_router(web: Web) -> APIRouter:
    router = APIRouter()

    def page(request: Request, session: Any, status: int = 200, **extra: Any) -> Response:
        try:
            found = list_tokens(web.controller, session.who)
        except PermissionError as exc:
            found, extra = [], {"error": str(exc), "hint": "ask an admin", **extra}
            status = 403
        return web.render(
            request,
            "tokens.html",
            session,
            status,
            title="Tokens",
            page="tokens",
            tokens=found,
            **extra,
        )

    @router.get(f"{PREFIX}/tokens")
    def tokens(request: Request) -> Response:
        session = web.session(request)
        if session is None:
            return web.redirect(f"{PREFIX}/login")
        return page(request, session)

    @router.post(f"{PREFIX}/tokens/{{name}}/revoke")
    def revoke(
        request: Request,
        name: str,
        csrf: Annotated[str, Form(max_length=100)] = "",
        reason: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        def act(session: Any) -> str:
            revoke_token(web.controller, session.who, name, reason.strip())
            return f"Token {name} revoked: its API calls and dashboard sessions end now."

        def refuse(session: Any, status: int, **shown: str) -> Response:
            return page(request, session, status, **shown)

        return web.act(
            request, csrf, reason, act, refuse, f"{PREFIX}/tokens#token-{quote(name, safe='')}"
        )

    return router
