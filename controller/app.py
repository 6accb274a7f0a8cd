"""The controller's HTTP API. Every request carries its own bearer token; the role decides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from controller.api_read import bearer_principal
from controller.dashboard import install_dashboard
from controller.decisions import BackendUnreachable, Controller, StoreFailed
from controller.readmodel import DEFAULT_ENVS
from controller.token_admin import list_tokens, revoke_token
from controller.tokens import Principal
from harness.errors import ChaperoneError, GateRefused, UsageError


class PinProposal(BaseModel):
    policy_digest: str
    keys: list[str] = Field(min_length=1, max_length=8)  # gate public keys, PEM
    # key id -> when it stops verifying: a rotation's overlap window for the outgoing key
    expires: dict[str, datetime] = Field(default_factory=dict)


class Stage(BaseModel):
    percent: int
    reason: str = Field("", max_length=500)


class TokenRevoke(BaseModel):
    reason: str = Field("", max_length=500)


class Revoke(BaseModel):
    digest: str


class Disable(BaseModel):
    reason: str = Field("", max_length=500)


def create_app(
    controller: Controller,
    envs: Sequence[str] = DEFAULT_ENVS,
    watch_every: float | None = None,
    watch_envs: Sequence[str] = (),
) -> FastAPI:
    app = FastAPI(title="chaperone controller", docs_url=None, redoc_url=None)
    app.state.controller = controller

    @app.exception_handler(PermissionError)
    async def _forbidden(_request: Request, exc: PermissionError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=403)

    @app.exception_handler(GateRefused)
    async def _refused(_request: Request, exc: GateRefused) -> JSONResponse:
        return JSONResponse(_error(exc), status_code=409)

    @app.exception_handler(UsageError)
    async def _usage(_request: Request, exc: UsageError) -> JSONResponse:
        return JSONResponse(_error(exc), status_code=400)

    # The database or the flag store failed mid-decision: the answer is one line saying what
    # state the flag was left in (off, or still being turned off), never a traceback.
    @app.exception_handler(StoreFailed)
    async def _store_failed(_request: Request, exc: StoreFailed) -> JSONResponse:
        return JSONResponse(_error(exc), status_code=503)

    @app.exception_handler(BackendUnreachable)
    async def _backend_failed(_request: Request, exc: BackendUnreachable) -> JSONResponse:
        return JSONResponse(_error(exc), status_code=503)

    # Decisions block on the database and the flag backend: plain `def` routes run in
    # FastAPI's thread pool, so one slow Unleash call does not stall every other request.
    @app.get("/v1/flags/{flag}")
    def status(flag: str, who: Who) -> dict[str, Any]:
        return controller.status(who, flag)

    @app.post("/v1/flags/{flag}/pin-proposals")
    def propose(flag: str, body: PinProposal, who: Who) -> dict[str, Any]:
        return {
            "proposal": controller.propose_pin(
                who, flag, body.policy_digest, body.keys, expires=body.expires
            )
        }

    @app.post("/v1/pin-proposals/{proposal}/approve")
    def approve(proposal: int, who: Who) -> dict[str, Any]:
        pin = controller.approve_pin(who, proposal)
        return {"flag": pin.flag, "policy_digest": pin.policy_digest, "keyids": sorted(pin.keys)}

    @app.post("/v1/flags/{flag}/envs/{env}/verdicts")
    def submit(flag: str, env: str, who: Who, envelope: Envelope) -> dict[str, Any]:
        proven = controller.submit_verdict(who, flag, env, envelope)
        return {"digest": proven.verdict.build_digest, "build": proven.verdict.build}

    @app.post("/v1/flags/{flag}/envs/{env}/enable")
    def enable(
        flag: str, env: str, who: Who, envelope: Envelope, rollout: int = 100
    ) -> dict[str, Any]:
        # ?rollout=N starts the flag at a stage of the pinned policy (default 100%).
        proven = controller.enable(who, flag, env, envelope, rollout=rollout)
        return {
            "flag": flag,
            "env": env,
            "enabled": True,
            "rollout": rollout,
            "digest": proven.verdict.build_digest,
            "build": proven.verdict.build,
        }

    @app.post("/v1/flags/{flag}/envs/{env}/disable")
    def disable(flag: str, env: str, who: Who, body: Disable | None = None) -> dict[str, Any]:
        state = controller.disable(who, flag, env, body.reason if body else "")
        return {"flag": flag, "env": env, "enabled": state.enabled}

    @app.post("/v1/flags/{flag}/envs/{env}/rollout")
    def stage(flag: str, env: str, body: Stage, who: Who) -> dict[str, Any]:
        state = controller.set_stage(who, flag, env, body.percent, body.reason)
        return {"flag": flag, "env": env, "enabled": state.enabled, "rollout": state.rollout}

    @app.get("/v1/tokens")
    def tokens(who: Who) -> dict[str, Any]:
        return {"tokens": list_tokens(controller, who)}

    @app.post("/v1/tokens/{name}/revoke")
    def revoke_a_token(name: str, who: Who, body: TokenRevoke | None = None) -> dict[str, Any]:
        revoke_token(controller, who, name, body.reason if body else "")
        return {"token": name, "revoked": True}

    @app.get("/v1/alerts")
    def alerts(who: Who) -> dict[str, Any]:
        return controller.open_alerts(who)

    @app.post("/v1/flags/{flag}/revocations")
    def revoke(flag: str, body: Revoke, who: Who) -> dict[str, Any]:
        return {"flag": flag, "disabled": controller.revoke(who, flag, body.digest)}

    install_dashboard(app, controller, envs, watch_every, watch_envs)
    return app


Who = Annotated[Principal, Depends(bearer_principal)]


def _raw_body(limit: int) -> Callable[..., Any]:
    async def read(request: Request) -> bytes:
        data = b""
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise HTTPException(413, f"body larger than {limit} bytes")
        return data

    return read


Envelope = Annotated[bytes, Depends(_raw_body(1024 * 1024))]


def _error(exc: ChaperoneError) -> dict[str, str]:
    return {"error": exc.problem, "hint": exc.fix or ""}
