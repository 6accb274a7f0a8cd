"""Read-only JSON endpoints for the dashboard and for anyone with a viewer token: every flag by
environment, one flag in detail, a live verdict, the verified audit timeline, the incidents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from controller.readmodel import ReadModel, require_reader
from controller.tokens import Principal, principal_for


def bearer_principal(request: Request) -> Principal:
    """The caller named by the request's bearer token (401 without a valid one): every API
    route, reading or deciding, resolves its caller here."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    who = None
    if scheme.lower() == "bearer":
        who = principal_for(request.app.state.controller.engine, token.strip())
    if who is None:
        raise HTTPException(401, "a valid bearer token is required")
    return who


def _reader(request: Request) -> Principal:
    who = bearer_principal(request)
    require_reader(who)
    return who


Reader = Annotated[Principal, Depends(_reader)]


def read_router(model: ReadModel) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/flags")
    def grid(_who: Reader) -> dict[str, Any]:
        return model.grid()

    @router.get("/v1/flags/{flag}/overview")
    def overview(flag: str, _who: Reader) -> dict[str, Any]:
        return model.flag(flag)

    @router.get("/v1/flags/{flag}/envs/{env}/verdict")
    def verdict(flag: str, env: str, _who: Reader) -> dict[str, Any]:
        return {"flag": flag, "env": env, "verdict": model.verdict(flag, env)}

    @router.get("/v1/audit")
    def timeline(_who: Reader, flag: str | None = None) -> dict[str, Any]:
        rows = model.audit_rows(flag)
        return {
            "intact": all(row.verified for row in rows),
            "rows": [row.to_json() for row in rows],
        }

    @router.get("/v1/incidents")
    def incidents(_who: Reader) -> dict[str, Any]:
        return {"incidents": model.incidents()}

    return router
