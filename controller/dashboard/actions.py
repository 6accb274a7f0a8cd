"""The dashboard's actions: each one a form with a reason and a CSRF token, each one calling
the same Controller decision the API and the CLI call (same role checks, same transaction, same
signed audit). A refusal re-renders the flag's page with the reason and the matching status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from controller.dashboard.pages import show_flag
from controller.dashboard.session import Session
from controller.dashboard.web import PREFIX, Web
from flags.verdict import MAX_VERDICT_BYTES
from harness.errors import UsageError

Reason = Annotated[str, Form(max_length=500)]
Csrf = Annotated[str, Form(max_length=100)]


def action_router(web: Web) -> APIRouter:
    router = APIRouter()
    decide = web.controller

    def run(
        request: Request, flag: str, csrf: str, reason: str, act: Callable[[Session], str]
    ) -> Response:
        def acted(session: Session) -> str:
            message = act(session)
            web.model.live.forget()
            return message

        def refuse(session: Session, status: int, **shown: str) -> Response:
            return show_flag(web, request, session, flag, status, **shown)

        return web.act(
            request, csrf, reason, acted, refuse, f"{PREFIX}/flags/{quote(flag, safe='')}"
        )

    @router.post(f"{PREFIX}/flags/{{flag}}/envs/{{env}}/enable")
    async def enable(request: Request, flag: str, env: str) -> Response:
        # Parsed here, after a size check: a declared File() parameter would be spooled to
        # disk whole before any check ran.
        size = request.headers.get("content-length", "")
        if not size.isdigit():
            raise HTTPException(411, "a verdict upload needs a Content-Length")
        if int(size) > MAX_VERDICT_BYTES + 64 * 1024:
            raise HTTPException(413, f"a verdict is at most {MAX_VERDICT_BYTES} bytes")
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("verdict")
        envelope = (
            await upload.read(MAX_VERDICT_BYTES + 1) if isinstance(upload, UploadFile) else b""
        )
        csrf, reason = str(form.get("csrf", "")), str(form.get("reason", ""))[:500]
        rollout = str(form.get("rollout", "") or "100").strip()

        def act(session: Session) -> str:
            if not envelope:
                raise UsageError(
                    "choose the verdict file to enable with", "the gate's verdict.json"
                )
            if not rollout.isdigit():
                raise UsageError(f"start stage '{rollout[:10]}' is not a percentage", "e.g. 25")
            proven = decide.enable(
                session.who, flag, env, envelope, rollout=int(rollout), reason=reason.strip()
            )
            v = proven.verdict
            return (
                f"Enabled {flag} in {env} at {int(rollout)}% for build {v.build} "
                f"({v.build_digest[:12]})."
            )

        # The decision blocks on the database and the flag store: off the event loop.
        return await run_in_threadpool(run, request, flag, csrf, reason, act)

    @router.post(f"{PREFIX}/flags/{{flag}}/envs/{{env}}/stage")
    def stage(
        request: Request,
        flag: str,
        env: str,
        percent: Annotated[int, Form(ge=0, le=1000)] = 0,
        csrf: Csrf = "",
        reason: Reason = "",
    ) -> Response:
        def act(session: Session) -> str:
            state = decide.set_stage(session.who, flag, env, percent, reason.strip())
            return f"{flag} in {env} is at {state.rollout}% now."

        return run(request, flag, csrf, reason, act)

    @router.post(f"{PREFIX}/flags/{{flag}}/envs/{{env}}/disable")
    def disable(
        request: Request, flag: str, env: str, csrf: Csrf = "", reason: Reason = ""
    ) -> Response:
        def act(session: Session) -> str:
            decide.disable(session.who, flag, env, reason.strip())
            return f"Disabled {flag} in {env}."

        return run(request, flag, csrf, reason, act)

    @router.post(f"{PREFIX}/flags/{{flag}}/revocations")
    def revoke(
        request: Request,
        flag: str,
        digest: Annotated[str, Form(max_length=200)] = "",
        csrf: Csrf = "",
        reason: Reason = "",
    ) -> Response:
        def act(session: Session) -> str:
            off = decide.revoke(session.who, flag, digest, reason=reason.strip())
            where = ", ".join(off) if off else "no environment was on with it"
            return f"Revoked artefact {digest.strip()[:19]} for {flag}; turned off: {where}."

        return run(request, flag, csrf, reason, act)

    @router.post(f"{PREFIX}/flags/{{flag}}/pin-proposals")
    def propose(
        request: Request,
        flag: str,
        policy_digest: Annotated[str, Form(max_length=200)] = "",
        keys: Annotated[str, Form(max_length=20_000)] = "",
        rotate_keyid: Annotated[str, Form(max_length=64)] = "",
        rotate_until: Annotated[str, Form(max_length=40)] = "",
        csrf: Csrf = "",
        reason: Reason = "",
    ) -> Response:
        def act(session: Session) -> str:
            pems = _pems(keys)
            expires = _rotation(rotate_keyid.strip(), rotate_until.strip())
            number = decide.propose_pin(
                session.who, flag, policy_digest, pems, reason=reason.strip(), expires=expires
            )
            return f"Pin proposal {number} recorded; it waits for a second admin's approval."

        return run(request, flag, csrf, reason, act)

    @router.post(f"{PREFIX}/flags/{{flag}}/pin-proposals/{{proposal}}/approve")
    def approve(
        request: Request, flag: str, proposal: int, csrf: Csrf = "", reason: Reason = ""
    ) -> Response:
        def act(session: Session) -> str:
            pin = decide.approve_pin(session.who, proposal, reason=reason.strip())
            return f"Pin proposal {proposal} approved: {pin.flag} is pinned to it now."

        return run(request, flag, csrf, reason, act)

    return router


def _pems(text: str) -> list[str]:
    """Each PEM block in a pasted text (one or more gate public keys)."""
    end = "-----END PUBLIC KEY-----"
    blocks = [part.strip() + "\n" + end + "\n" for part in text.split(end) if part.strip()]
    if not blocks:
        raise UsageError("paste at least one gate public key (PEM)", "the gate's gate.pub")
    return blocks


def _rotation(keyid: str, until: str) -> dict[str, datetime]:
    """The outgoing key's end of overlap, from the form (a datetime-local value read as UTC)."""
    if not keyid and not until:
        return {}
    if not keyid or not until:
        raise UsageError("a key rotation needs both the key id and the time it stops", "")
    try:
        at = datetime.fromisoformat(until)
    except ValueError:
        raise UsageError(f"'{until}' is not a time", "e.g. 2026-12-31T00:00") from None
    return {keyid: at if at.tzinfo is not None else at.replace(tzinfo=UTC)}
