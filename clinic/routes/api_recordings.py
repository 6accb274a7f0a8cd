"""Recordings: the caller's paginated list, metadata, media tokens and ranged media."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.access import patient_recordings, recording_for_metadata, recording_out
from clinic.auth import CurrentUser, State
from clinic.media import RangeNotSatisfiable, parse_range
from clinic.models import MediaToken, Recording, User, utcnow
from clinic.routes.params import RecordingId
from clinic.schemas import MediaTokenOut, RecordingOut, RecordingPage
from clinic.state import ClinicState

router = APIRouter(tags=["recordings"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such recording visible to you"}
}


def cache_key(state: ClinicState, request: Request, user: User) -> str:
    """Per-user cache key for a `/me` style URL, whose path alone does not name the user."""
    scope = "" if state.active("profile-cache-shared") else f"user={user.id}:"
    return f"{scope}{request.url.path}?{request.url.query}"


@router.get("/api/me/recordings", responses={401: {"description": "not logged in"}})
def api_my_recordings(
    request: Request,
    user: CurrentUser,
    state: State,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> RecordingPage:

    def load() -> RecordingPage:
        with state.db.read() as session:
            items, total = patient_recordings(session, state, user, page, per_page)
        return RecordingPage(items=items, page=page, per_page=per_page, total=total)

    return state.cache.remember(cache_key(state, request, user), load)


@router.get("/api/recordings/{recording_id}", responses=NOT_FOUND)
def api_recording(recording_id: RecordingId, user: CurrentUser, state: State) -> RecordingOut:
    with state.db.read() as session:
        recording = recording_for_metadata(session, state, user, recording_id)
        if recording is None:
            raise HTTPException(404, "recording not found")
        return recording_out(recording)


@router.post("/api/recordings/{recording_id}/media-token", responses=NOT_FOUND)
def api_media_token(recording_id: RecordingId, user: CurrentUser, state: State) -> MediaTokenOut:
    ttl = state.settings.media_token_ttl
    with state.db.write() as session:
        if recording_for_metadata(session, state, user, recording_id) is None:
            raise HTTPException(404, "recording not found")
        token = secrets.token_urlsafe(24)
        expires = utcnow() + timedelta(seconds=ttl)
        session.add(
            MediaToken(token=token, recording_id=recording_id, user_id=user.id, expires_at=expires)
        )
    url = f"/api/recordings/{recording_id}/media?token={token}"
    return MediaTokenOut(token=token, url=url, expires_in=ttl)


@router.get(
    "/api/recordings/{recording_id}/media",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "media bytes"},
        206: {"content": {"application/octet-stream": {}}, "description": "a byte range"},
        403: {"description": "missing or wrong media token"},
        416: {"description": "range not satisfiable"},
    },
)
def api_media(
    recording_id: RecordingId,
    user: CurrentUser,
    state: State,
    token: Annotated[str | None, Query(max_length=100)] = None,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    with state.db.read() as session:
        recording = _authorised_media(session, state, user, recording_id, token)
    try:
        data = Path(recording.media_path).read_bytes()
    except OSError:
        raise HTTPException(404, "media no longer available") from None
    return _ranged(data, range_header)


def _authorised_media(
    session: Session, state: ClinicState, user: User, recording_id: int, token: str | None
) -> Recording:
    if not token:
        raise HTTPException(403, "a media token is required: POST .../media-token first")
    if state.active("media-token-unbound"):
        grant = session.get(MediaToken, token)
    else:
        grant = session.scalar(
            select(MediaToken).where(
                MediaToken.token == token,
                MediaToken.recording_id == recording_id,
                MediaToken.user_id == user.id,
            )
        )
    if grant is None or grant.expires_at < utcnow():
        raise HTTPException(403, "media token is not valid for this recording")
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise HTTPException(404, "recording not found")
    return recording


def _ranged(data: bytes, range_header: str | None) -> Response:
    headers = {"Accept-Ranges": "bytes"}
    media_type = "application/octet-stream"
    if range_header is None:
        return Response(data, media_type=media_type, headers=headers)
    try:
        start, end = parse_range(range_header, len(data))
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{len(data)}"
        return Response(status_code=416, headers=headers)
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], status_code=206, media_type=media_type, headers=headers)
