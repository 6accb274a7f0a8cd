"""The application factory: `create_app(ClinicSettings(...))` for uvicorn and in-process tests."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from clinic.db import Database
from clinic.flags import FileFlagSource, FlagSource, UnleashFlagSource
from clinic.notify import Outbox
from clinic.routes import (
    api_account,
    api_calls,
    api_clinician,
    api_recordings,
    api_search,
    events,
    pages,
    support,
)
from clinic.settings import ClinicSettings
from clinic.state import ClinicState
from clinic.ttlcache import TTLCache

SUPPORT_TOKEN_ENV = "CHAPERONE_SUPPORT_TOKEN"
# Every router the app serves, in the order it includes them. The support router goes last: its
# catch-all 404 must not shadow any other route.
ROUTER_MODULES = (
    api_account,
    api_recordings,
    api_calls,
    api_clinician,
    api_search,
    events,
    pages,
    support,
)


def build_flags(settings: ClinicSettings) -> FlagSource:
    if settings.unleash_url:
        return UnleashFlagSource(settings.unleash_url, settings.unleash_token)
    return FileFlagSource(settings.flags_path)


def build_state(settings: ClinicSettings) -> ClinicState:
    if settings.support_token is None and os.environ.get(SUPPORT_TOKEN_ENV):
        settings = settings.model_copy(update={"support_token": os.environ[SUPPORT_TOKEN_ENV]})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.create_schema()
    rtc = None
    if settings.media == "real":
        # Imported only here: aiortc, PyAV and numpy cost a header-mode clinic ~0.3 s a start.
        from clinic.media_rtc import MediaEndpoint

        rtc = MediaEndpoint(settings)
    return ClinicState(
        settings=settings,
        db=db,
        flags=build_flags(settings),
        cache=TTLCache(settings.cache_ttl),
        outbox=Outbox(settings),
        rtc=rtc,
    )


def create_app(settings: ClinicSettings, state: ClinicState | None = None) -> FastAPI:
    clinic = state or build_state(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if clinic.rtc is not None:
            await clinic.rtc.aclose()
        clinic.outbox.close()
        clinic.flags.close()
        clinic.db.dispose()

    app = FastAPI(
        title="GP Online (staging clinic)",
        version="1.0.0",
        description="Reference GP video-consultation app that Chaperone tests. See clinic/API.md.",
        lifespan=lifespan,
    )
    app.state.clinic = clinic
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    for module in ROUTER_MODULES:
        app.include_router(module.router)
    return app


class AsciiJSONResponse(JSONResponse):
    """Escapes non-ASCII, so echoing a client's malformed text (lone surrogates) cannot fail."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # The rejected input is left out: it may be patient data, and it may not even be encodable.
    errors = [{k: v for k, v in error.items() if k != "input"} for error in exc.errors()]
    return AsciiJSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)
